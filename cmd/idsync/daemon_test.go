package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/connectors/scim/scimtest"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// logBuffer collects a daemon's output; tests read it while it runs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls the daemon's output until it contains s.
func (b *logBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	for start := time.Now(); !strings.Contains(b.String(), s); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the daemon never logged %q:\n%s", s, b.String())
		}
	}
}

// startDaemon runs `idsync run` and waits until /readyz answers.
func startDaemon(t *testing.T, bin, dir, addr string) (*exec.Cmd, *logBuffer) {
	t.Helper()
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "idsync.yaml"), "--log-level", "info", "run", "--listen", addr)
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			return cmd, logs
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the daemon did not become ready:\n%s", logs.String())
		}
	}
}

func syncNow(t *testing.T, addr, token, query string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/sync?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestDaemonSyncsAndReportsMetrics(t *testing.T) {
	bin := buildBinary(t)
	dir, addr := t.TempDir(), freePort(t)
	cfg := `state: state
daemon: {token: t0ken, shutdownTimeout: 2s}
sources:
  hr: {type: csv, path: hr.csv, key: id, every: 1h, schema: {id: string, name: string}}
targets:
  dir: {type: sqlite, path: dir.db, source: hr, opsPerRun: 4, attributes: {name: user.name}}
`
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("idsync.yaml", cfg)
	write("hr.csv", "id,name\nA1,a\nA2,b\nA3,c\n")
	cmd, logs := startDaemon(t, bin, dir, addr)

	if code, _ := syncNow(t, addr, "wrong", "source=hr"); code != http.StatusUnauthorized {
		t.Errorf("sync with a wrong token: %d, want 401", code)
	}
	code, body := syncNow(t, addr, "t0ken", "source=hr&wait=true")
	var res struct {
		Run             string
		Applied, Failed int
	}
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil || res.Applied != 3 || res.Run == "" {
		t.Fatalf("first sync: %d %s", code, body)
	}
	// Logs are JSON off a terminal, and the run's lines carry its id.
	logs.waitFor(t, `"msg":"run done","source":"hr","run":"`+res.Run+`"`)
	// Day 2: the 3 leave, 12 join: a run of three waves (opsPerRun).
	var day2 strings.Builder
	day2.WriteString("id,name\n")
	for i := range 12 {
		fmt.Fprintf(&day2, "B%02d,n%d\n", i, i)
	}
	write("hr.csv", day2.String())
	if code, body := syncNow(t, addr, "t0ken", "source=hr&wait=true"); code != 200 || !strings.Contains(body, `"Applied":15`) && !strings.Contains(body, `"applied":15`) {
		t.Fatalf("second sync: %d %s", code, body)
	}
	logs.waitFor(t, `"msg":"wave done; planning the next","source":"hr"`)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`idsync_apply_ops_total{action="create",result="applied",target="dir"} 15`,
		`idsync_apply_ops_total{action="disable",result="applied",target="dir"} 3`,
		`idsync_plan_ops_total{action="disable",target="dir"} 3`,
		`idsync_run_duration_seconds_count{kind="full",source="hr"} 2`,
		`idsync_last_success_timestamp_seconds{source="hr"}`,
		`idsync_target_quarantined{target="dir"} 0`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, logs.String())
	}
}

// TestDaemonSIGTERMMidApplyLosesNothing: SIGTERM while a slow apply runs;
// the daemon exits 0 within its shutdown timeout, and the next run
// finishes the work without creating anything twice.
func TestDaemonSIGTERMMidApplyLosesNothing(t *testing.T) {
	bin := buildBinary(t)
	s := scimtest.StartStrict(t)
	s.Slow(100 * time.Millisecond) // 30 users at concurrency 1: about 3 s
	dir := scimProject(t, s, scimtest.Token, 30)
	cfg, _ := os.ReadFile(filepath.Join(dir, "idsync.yaml"))
	cfg = append(cfg, []byte("daemon: {token: t0ken, shutdownTimeout: 1s}\n")...)
	if err := os.WriteFile(filepath.Join(dir, "idsync.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cmd, logs := startDaemon(t, bin, dir, addr)
	if code, body := syncNow(t, addr, "t0ken", "source=hr"); code != http.StatusAccepted {
		t.Fatalf("sync: %d %s", code, body)
	}
	for s.Posts() < 3 {
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// While the run in flight drains, the daemon says it is not ready.
	unready := false
	for !unready && time.Since(start) < time.Second {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			unready = resp.StatusCode == http.StatusServiceUnavailable
			resp.Body.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !unready {
		t.Error("/readyz never turned 503 during shutdown")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, logs.String())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %v, past the 1s timeout by far", took)
	}
	if s.Creates() >= 30 {
		t.Fatalf("the apply finished before SIGTERM; the test proves nothing")
	}
	s.Slow(0)
	out, err := exec.Command(bin, "-c", filepath.Join(dir, "idsync.yaml"), "apply", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("the next apply: %v\n%s", err, out)
	}
	if s.Creates() != 30 || len(s.Users()) != 30 {
		t.Errorf("after the next apply: %d creates, %d users; want 30 and 30", s.Creates(), len(s.Users()))
	}
}

// TestDaemonSIGHUPReloads: a broken config sent by SIGHUP is rejected with
// its error logged and the old config keeps syncing; a good one takes over.
func TestDaemonSIGHUPReloads(t *testing.T) {
	bin := buildBinary(t)
	dir, addr := t.TempDir(), freePort(t)
	config := func(rule string) string {
		return `state: state
daemon: {token: t0ken, shutdownTimeout: 2s}
sources:
  hr: {type: csv, path: hr.csv, key: id, every: 1h, schema: {id: string, name: string}}
targets:
  dir: {type: sqlite, path: dir.db, source: hr, attributes: {name: '` + rule + `'}}
`
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("idsync.yaml", config("user.name"))
	write("hr.csv", "id,name\nA1,a\nA2,b\n")
	cmd, logs := startDaemon(t, bin, dir, addr)
	if code, body := syncNow(t, addr, "t0ken", "source=hr&wait=true"); code != 200 || !strings.Contains(body, `"applied":2,`) {
		t.Fatalf("first sync: %d %s", code, body)
	}

	write("idsync.yaml", config("user.surname + 1"))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, "config reload rejected")
	if !strings.Contains(logs.String(), "surname") {
		t.Errorf("the rejection does not name the bad rule:\n%s", logs.String())
	}
	write("hr.csv", "id,name\nA1,a\nA2,b\nA3,c\n")
	if code, body := syncNow(t, addr, "t0ken", "source=hr&wait=true"); code != 200 || !strings.Contains(body, `"applied":1,`) {
		t.Fatalf("sync on the old config: %d %s", code, body)
	}

	write("idsync.yaml", config(`user.name + "!"`))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, "config reloaded")
	if code, body := syncNow(t, addr, "t0ken", "source=hr&wait=true"); code != 200 || !strings.Contains(body, `"applied":3,`) {
		t.Fatalf("sync on the new config (3 renames): %d %s", code, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, logs.String())
	}
}
