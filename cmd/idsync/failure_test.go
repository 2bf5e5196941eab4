package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/idsync/idsync/connectors/scim/scimtest"
	"github.com/idsync/idsync/snapshots"
)

// scimProject writes a small config and CSV for a SCIM server.
func scimProject(t *testing.T, s *scimtest.Server, token string, n int) string {
	t.Helper()
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("id,name\n")
	for i := range n {
		fmt.Fprintf(&csv, "E%03d,Person %d\n", i, i)
	}
	cfg := fmt.Sprintf(`state: state
sources:
  hr: {type: csv, path: hr.csv, key: id, schema: {id: string, name: string}}
targets:
  app:
    type: scim
    %s
    concurrency: 1
    source: hr
    attributes: {userName: user.id, displayName: user.name}
`, s.Connection("bearer: "+token))
	for name, data := range map[string]string{"idsync.yaml": cfg, "hr.csv": csv.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "idsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestSecondProcessFailsFast: while one apply runs, a second idsync on the
// same state directory exits at once with a clear message, and the first
// finishes with nothing corrupted.
func TestSecondProcessFailsFast(t *testing.T) {
	bin := buildBinary(t)
	s := scimtest.StartStrict(t)
	s.Slow(30 * time.Millisecond) // 40 users: the first run takes over a second
	dir := scimProject(t, s, scimtest.Token, 40)
	first := exec.Command(bin, "-c", filepath.Join(dir, "idsync.yaml"), "apply", "-q")
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Start the second only once the first holds the state: it is sending.
	for start := time.Now(); s.Posts() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the first process never started applying:\n%s", firstOut.String())
		}
	}
	var out []byte
	var code int
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		start := time.Now()
		second := exec.Command(bin, "-c", filepath.Join(dir, "idsync.yaml"), "plan")
		out, _ = second.CombinedOutput()
		code = second.ProcessState.ExitCode()
		if strings.Contains(string(out), "in use") {
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the second process took %v to give up", took)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != exitFailure || !strings.Contains(string(out), "state directory is in use by another idsync process") {
		_ = first.Wait()
		t.Fatalf("second process: exit %d, output:\n%s\nfirst process:\n%s", code, tail(out), firstOut.String())
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first process: %v\n%s", err, firstOut.String())
	}
	again, _ := exec.Command(bin, "-c", filepath.Join(dir, "idsync.yaml"), "plan").CombinedOutput()
	if !strings.Contains(string(again), "app: no changes (40 managed)") {
		t.Errorf("after both: plan says\n%s", again)
	}
}

// TestSecretsNeverInOutput: a wrong token fails the run, and neither it nor
// the right one appears in any output, debug logs included.
func TestSecretsNeverInOutput(t *testing.T) {
	s := scimtest.StartStrict(t)
	const bad = "wrong-token-XYZZY"
	dir := scimProject(t, s, bad, 3)
	var out, errs bytes.Buffer
	code := run(t.Context(), []string{"idsync", "--log-level", "debug", "-c", filepath.Join(dir, "idsync.yaml"), "apply"}, &out, &errs)
	if code == exitOK {
		t.Fatalf("a wrong token did not fail the run")
	}
	all := out.String() + errs.String()
	for _, secret := range []string{bad, scimtest.Token} {
		if strings.Contains(all, secret) {
			t.Errorf("output shows a token:\n%s", all)
		}
	}
	if !strings.Contains(all, "HTTP 401") {
		t.Errorf("the failure does not say what went wrong:\n%s", all)
	}
}

// TestNewerStateIsRefused: a state directory written by a newer idsync is
// refused with a message naming both versions, and left untouched.
func TestNewerStateIsRefused(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	db, err := badger.Open(badger.DefaultOptions(state).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte("m/version"), binary.BigEndian.AppendUint64(nil, 99))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cfg := "sources:\n  hr: {type: csv, path: hr.csv, key: id, schema: {id: string}}\ntargets:\n  t: {type: jsonl, path: o.jsonl, source: hr, attributes: {id: user.id}}\n"
	if err := os.WriteFile(filepath.Join(dir, "idsync.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	code := run(t.Context(), []string{"idsync", "--state", state, "-c", filepath.Join(dir, "idsync.yaml"), "plan"}, &out, &errs)
	want := fmt.Sprintf("uses key format v99, this idsync reads up to v%d", snapshots.FormatVersion)
	if code != exitFailure || !strings.Contains(errs.String(), want) {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, errs.String(), want)
	}
}
