package pipeline

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/batch"
	"github.com/idsync/idsync/connectors/csv"
	"github.com/idsync/idsync/connectors/jsonl"
	"github.com/idsync/idsync/connectors/scim"
	"github.com/idsync/idsync/connectors/sqlite"
)

// batchRows is the records per batch a source reads; zero takes the
// connectors' default. Tests lower it to run many batches through a plan.
var batchRows = 0

// deltaBatchRows is the records per batch of a delta read. A delta's
// records are scattered over state, and each costs point reads of tens of
// microseconds, so batches are worth balancing across workers: 10k
// changes in 4096-record batches were three batches on two workers, one
// idle while the other read the third. At 1024 a delta plan of 10k
// changes on a 10M state took 5% less time, in four pairs; 512 and 256
// were no faster, and mapped more of the tables between trims.
var deltaBatchRows = 1024

// openSource builds the source connector for s, reading its delta file
// when delta is set; rejects go to reject, and alloc (nil for Go's) makes
// the batches' buffers.
func openSource(s *source, delta bool, reject connectors.RejectFunc, alloc memory.Allocator) (connectors.Source, error) {
	bo := batch.Options{MaxFieldBytes: s.cfg.MaxFieldBytes, Rows: batchRows, Allocator: alloc}
	path := s.cfg.Path
	if delta {
		path = s.cfg.Delta
		if bo.Rows == 0 {
			bo.Rows = deltaBatchRows
		}
	}
	switch s.cfg.Type {
	case "csv":
		return csv.New(csv.Options{Path: path, Columns: s.columns, Key: s.cfg.Key,
			Comma: s.cfg.Delimiter, Tombstones: true, Batch: bo, Reject: reject})
	case "jsonl":
		return jsonl.New(jsonl.Options{Path: path, Columns: s.columns, Key: s.cfg.Key,
			Tombstones: true, Batch: bo, Reject: reject})
	}
	return nil, fmt.Errorf("source %s: unknown type %q", s.cfg.Name, s.cfg.Type)
}

// openTarget connects to t's system.
func openTarget(ctx context.Context, t *target) (connectors.Target, error) {
	switch t.cfg.Type {
	case "sqlite":
		names := make([]string, len(t.policy.Attrs)) // attributes and references
		types := map[string]string{}
		for i, a := range t.policy.Attrs {
			names[i] = a.Name
			if y := t.attrs[i].Yields; y == "bool" || y == "list" {
				types[a.Name] = y
			}
		}
		return sqlite.Open(ctx, sqlite.Options{Path: t.cfg.Path, Table: t.cfg.Table, Attributes: names, Match: t.cfg.Match, Types: types})
	case "jsonl":
		return jsonl.Open(t.cfg.Path)
	case "scim":
		return scim.Open(ctx, scimOptions(t))
	}
	return nil, fmt.Errorf("target %s: unknown type %q", t.cfg.Name, t.cfg.Type)
}

func scimOptions(t *target) scim.Options {
	c := t.cfg
	o := scim.Options{URL: c.URL, Bearer: scim.Secret(c.Auth.Bearer), CAFile: c.TLS.CA,
		RateLimit: c.RateLimit, Timeout: c.Timeout, Concurrency: c.Concurrency, Bulk: c.Bulk}
	if a := c.Auth.OAuth2; a != nil {
		o.OAuth2 = &scim.OAuth2{TokenURL: a.TokenURL, ClientID: a.ClientID, ClientSecret: scim.Secret(a.ClientSecret), Scopes: a.Scopes}
	}
	for _, a := range t.policy.Attrs {
		o.Attributes = append(o.Attributes, a.Name)
	}
	return o
}
