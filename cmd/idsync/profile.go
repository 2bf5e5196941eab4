package main

import (
	"fmt"
	"os"
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

// stopProfile flushes the profile started by startProfile.
func stopProfile(c *cli.Context) error {
	f, ok := c.App.Metadata["cpuprofile"].(*os.File)
	if !ok {
		return nil
	}
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	return nil
}
