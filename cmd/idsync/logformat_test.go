package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLogHandlerFormats(t *testing.T) {
	for _, tc := range []struct {
		format string
		json   bool
	}{{"auto", true}, {"json", true}, {"text", false}} {
		var buf bytes.Buffer
		h, err := logHandler(&buf, tc.format, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		slog.New(h).With("run", "r1", "target", "crm").Info("applied")
		var rec map[string]any
		isJSON := json.Unmarshal(buf.Bytes(), &rec) == nil
		if isJSON != tc.json {
			t.Errorf("%s: JSON=%v, want %v: %s", tc.format, isJSON, tc.json, buf.String())
		}
		if !strings.Contains(buf.String(), "r1") || !strings.Contains(buf.String(), "crm") {
			t.Errorf("%s: run or target missing: %s", tc.format, buf.String())
		}
	}
	if _, err := logHandler(&bytes.Buffer{}, "xml", nil); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("bad format: err = %v", err)
	}
}
