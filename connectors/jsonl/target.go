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

var _ connectors.Target = (*Target)(nil)

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
	id := op.ID
	if id == "" {
		id = op.Key
	}
	line, err := json.Marshal(record{Action: op.Action, Object: op.Object, Key: op.Key, ID: id, Changes: op.Attrs(),
		Disabled: op.Disabled, Members: op.Members, Reason: op.Reason})
	if err != nil {
		return connectors.Result{}, connectors.Terminal(err, "encode op for %s", op.Key)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.f.Write(append(line, '\n')); err != nil {
		return connectors.Result{}, connectors.Retryable(err, "write")
	}
	return connectors.Result{ID: id}, nil
}

// Close syncs the file so that acknowledged ops are on disk.
func (t *Target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return errors.Join(t.f.Sync(), t.f.Close())
}
