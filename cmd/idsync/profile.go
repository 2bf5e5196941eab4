package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/urfave/cli/v2"
)

// startProfile starts a CPU profile when --cpuprofile asks for one, so a
// slow run on a user's own data can be profiled with the shipped binary.
func startProfile(c *cli.Context) error {
	path := c.String("cpuprofile")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return exitf(exitConfig, "--cpuprofile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return exitf(exitConfig, "--cpuprofile: %v", err)
	}
	c.App.Metadata = map[string]any{"cpuprofile": f}
	return nil
}

// stopProfile flushes the CPU profile started by startProfile and writes
// the heap profile --memprofile asks for.
func stopProfile(c *cli.Context) error {
	if f, ok := c.App.Metadata["cpuprofile"].(*os.File); ok {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	path := c.String("memprofile")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	// The heap profile is as of the last collection; a plan that kept a
	// high GC percent may have run its last one seconds ago.
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("--memprofile: %w", err)
	}
	return f.Close()
}
