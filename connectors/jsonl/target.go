package jsonl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/idsync/idsync/connectors"
)

var (
	_ connectors.Target      = (*Target)(nil)
	_ connectors.BulkApplier = (*Target)(nil)
)

// Target appends each applied op to a file, one JSON object per line. It
// keeps no objects of its own: the id it assigns is the source key.
type Target struct {
	mu sync.Mutex
	f  *os.File
}

// Open opens (creating if needed) the file for appending.
func Open(path string) (*Target, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("jsonl target: %w", err)
	}
	return &Target{f: f}, nil
}

// record is the line format. Field names are part of the file contract.
type record struct {
	Action   connectors.Action `json:"action"`
	Object   connectors.Kind   `json:"object,omitempty"`
	Key      string            `json:"key"`
	ID       string            `json:"id"`
	Changes  connectors.Attrs  `json:"changes,omitempty"`
	Disabled bool              `json:"disabled,omitempty"`
	Members  []string          `json:"members,omitempty"`
	Reason   string            `json:"reason,omitempty"`
}

// Apply appends the op with one write, so an acknowledged op survives the
// process being killed (the OS holds it); Close syncs it to disk.
func (t *Target) Apply(_ context.Context, op connectors.Op) (connectors.Result, error) {
	line, id, err := encode(nil, op)
	if err != nil {
		return connectors.Result{}, err
	}
	return connectors.Result{ID: id}, t.write(line)
}

// BulkSize is how many ops ApplyBulk takes: one write carries them all.
func (t *Target) BulkSize() int { return 500 }

// ApplyBulk appends ops with one write. An op that cannot be encoded fails
// alone; a failed write fails them all (none was acknowledged).
func (t *Target) ApplyBulk(_ context.Context, ops []connectors.Op) ([]connectors.Result, []error) {
	results, errs := make([]connectors.Result, len(ops)), make([]error, len(ops))
	var buf []byte
	for i, op := range ops {
		b, id, err := encode(buf, op)
		if err != nil {
			errs[i] = err
			continue
		}
		buf, results[i] = b, connectors.Result{ID: id}
	}
	if err := t.write(buf); err != nil {
		for i := range errs {
			if errs[i] == nil {
				results[i], errs[i] = connectors.Result{}, err
			}
		}
	}
	return results, errs
}

// encode appends op's line to b and returns the id it assigns.
func encode(b []byte, op connectors.Op) ([]byte, string, error) {
	id := op.ID
	if id == "" {
		id = op.Key
	}
	line, err := json.Marshal(record{Action: op.Action, Object: op.Object, Key: op.Key, ID: id, Changes: op.Attrs(),
		Disabled: op.Disabled, Members: op.Members, Reason: op.Reason})
	if err != nil {
		return b, "", connectors.Terminal(err, "encode op for %s", op.Key)
	}
	return append(append(b, line...), '\n'), id, nil
}

func (t *Target) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.f.Write(b); err != nil {
		return connectors.Retryable(err, "write")
	}
	return nil
}

// Close syncs the file so that acknowledged ops are on disk. A path that
// is not a regular file (/dev/null, /dev/stdout, a pipe) has no disk to
// sync to, and fsync refuses it, so it is only closed.
func (t *Target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var sync error
	if fi, err := t.f.Stat(); err != nil || fi.Mode().IsRegular() {
		sync = t.f.Sync()
	}
	return errors.Join(sync, t.f.Close())
}
