package scimtest

import (
	"bufio"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// StartLenient runs the npm packages scimmy and scimmy-routers under
// Node.js (testdata/scim/scimmy/server.js). They accept much that the RFC
// forbids, which is exactly what a client must cope with. `make test`
// installs the packages (npm ci) before running the tests.
func StartLenient(t testing.TB) *Server {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("the lenient SCIM server needs Node.js: %v (.ci/run installs it)", err)
	}
	dir := scimmyDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "scimmy")); err != nil {
		t.Fatalf("scimmy is not installed in %s: run `make test`, which runs npm ci there first", dir)
	}
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
	}()
	var backend *url.URL
	select {
	case p := <-port:
		backend, _ = url.Parse("http://127.0.0.1:" + p)
	case <-time.After(20 * time.Second):
		t.Fatal("scimmy server did not start within 20s")
	}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	// A request the client gave up on (an injected hang) is expected.
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	s := newServer(t, "lenient (scimmy)", proxy)
	readBack := func(what string) func() map[string]map[string]any {
		return func() map[string]map[string]any {
			resp, err := http.Get(backend.String() + "/_" + what)
			if err != nil {
				t.Errorf("read back %s: %v", what, err)
				return nil
			}
			defer resp.Body.Close() //nolint:errcheck // read fully by Decode; nothing to lose
			var out map[string]map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Errorf("read back %s: %v", what, err)
			}
			return out
		}
	}
	s.users, s.groups = readBack("users"), readBack("groups")
	return s
}

// scimmyDir is testdata/scim/scimmy at the module root, found from this
// file so tests in any package can start the server.
func scimmyDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "scim", "scimmy")
}
