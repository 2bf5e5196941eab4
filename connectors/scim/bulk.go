package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/idsync/idsync/connectors"
)

const (
	bulkRequestSchema = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	// maxBulkOps bounds one request even when the server allows more: a
	// failed request then costs a bounded retry.
	maxBulkOps = 100
)

var _ connectors.BulkApplier = (*Target)(nil)

// BulkSize is how many ops go in one Bulk request: zero unless bulk is
// configured and /ServiceProviderConfig says the server supports it.
func (t *Target) BulkSize() int {
	if !t.opts.Bulk || !t.Config.Bulk {
		return 0
	}
	return min(maxBulkOps, max(t.Config.BulkMaxOperations, 1))
}

// bulkOp is one operation of a BulkRequest (RFC 7644 §3.7).
type bulkOp struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	BulkID string `json:"bulkId,omitempty"`
	Data   any    `json:"data,omitempty"`
}

// ApplyBulk sends user ops as Bulk requests, split to stay within the
// server's maxOperations and maxPayloadSize. Each op keeps its own result.
func (t *Target) ApplyBulk(ctx context.Context, ops []connectors.Op) ([]connectors.Result, []error) {
	results, errs := make([]connectors.Result, len(ops)), make([]error, len(ops))
	var batch []int
	var body []bulkOp
	size := 0
	flush := func() {
		if len(batch) > 0 {
			t.sendBulk(ctx, body, batch, results, errs)
		}
		batch, body, size = nil, nil, 0
	}
	for i, op := range ops {
		b, err := t.bulkOp(op, i)
		if err != nil {
			errs[i] = err
			continue
		}
		n := jsonSize(b)
		if len(batch) > 0 && (len(batch) >= t.BulkSize() || (t.Config.BulkMaxPayload > 0 && size+n > t.Config.BulkMaxPayload*9/10)) {
			flush()
		}
		batch, body, size = append(batch, i), append(body, b), size+n
	}
	flush()
	return results, errs
}

func (t *Target) bulkOp(op connectors.Op, i int) (bulkOp, error) {
	switch op.Action {
	case connectors.Create:
		res, err := t.createBody(op)
		return bulkOp{Method: http.MethodPost, Path: "/Users", BulkID: "op" + strconv.Itoa(i), Data: res}, err
	case connectors.Update, connectors.Adopt:
		return bulkOp{Method: http.MethodPatch, Path: "/Users/" + op.ID, Data: patchBody(t.patchOps(op.Changes))}, nil
	case connectors.Disable, connectors.Enable:
		ops := []map[string]any{{"op": "replace", "path": "active", "value": op.Action == connectors.Enable}}
		return bulkOp{Method: http.MethodPatch, Path: "/Users/" + op.ID, Data: patchBody(ops)}, nil
	case connectors.Delete:
		return bulkOp{Method: http.MethodDelete, Path: "/Users/" + op.ID}, nil
	}
	return bulkOp{}, connectors.Terminal(nil, "scim bulk: %v is not supported", op.Action)
}

func (t *Target) sendBulk(ctx context.Context, body []bulkOp, idx []int, results []connectors.Result, errs []error) {
	r, err := t.c.do(ctx, http.MethodPost, "/Bulk", nil, map[string]any{"schemas": []string{bulkRequestSchema}, "Operations": body})
	if err != nil {
		for _, i := range idx {
			errs[i] = err
		}
		return
	}
	answers, _ := lookupFold(r.body, "Operations").([]any)
	for k, i := range idx {
		if k >= len(answers) {
			errs[i] = connectors.Retryable(nil, "scim bulk: no result for operation %d", k)
			continue
		}
		a, _ := answers[k].(map[string]any)
		status, _ := strconv.Atoi(strings.TrimSpace(fmt.Sprint(lookupFold(a, "status"))))
		resp, _ := lookupFold(a, "response").(map[string]any)
		if err := classify(body[k].Method, body[k].Path+" (bulk)", response{status: status, body: resp}); err != nil {
			errs[i] = err
			continue
		}
		id := idFromLocation(fmt.Sprint(lookupFold(a, "location")))
		if v, ok := resp["id"].(string); ok && v != "" {
			id = v
		}
		if id == "" && body[k].Method != http.MethodPost {
			id = strings.TrimPrefix(body[k].Path, "/Users/")
		}
		if id == "" {
			errs[i] = connectors.Terminal(nil, "scim bulk: created object has no id")
			continue
		}
		results[i] = connectors.Result{ID: id}
	}
}

func idFromLocation(loc string) string {
	if i := strings.LastIndex(loc, "/Users/"); i >= 0 {
		return loc[i+len("/Users/"):]
	}
	return ""
}

func patchBody(ops []map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchSchema}, "Operations": ops}
}

func jsonSize(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}
