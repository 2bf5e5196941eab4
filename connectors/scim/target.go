package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/idsync/idsync/connectors"
)

var (
	_ connectors.KeyFinder    = (*Target)(nil)
	_ connectors.Target       = (*Target)(nil)
	_ connectors.Matcher      = (*Target)(nil)
	_ connectors.BatchMatcher = (*Target)(nil)
	_ connectors.Reader       = (*Target)(nil)
)

// Target provisions into one SCIM service provider.
type Target struct {
	c     *client
	opts  Options
	paths map[string]path
	// versions holds the last ETag seen per resource path, sent as
	// If-Match when the server supports ETags.
	versions sync.Map
	// Config is what the server's /ServiceProviderConfig says it supports.
	Config ProviderConfig
}

// ProviderConfig is the part of /ServiceProviderConfig idsync uses.
type ProviderConfig struct {
	Patch, Filter, ETag, Bulk bool
	// MaxResults caps a filtered page, when the server says so.
	MaxResults int
	// BulkMaxOperations and BulkMaxPayload (bytes) bound one Bulk request.
	BulkMaxOperations, BulkMaxPayload int
}

// Open checks the options, reads /ServiceProviderConfig, and returns the
// target. A server that cannot be reached or refuses the credentials fails
// here, before any plan is applied.
func Open(ctx context.Context, o Options) (*Target, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	c, err := newClient(o)
	if err != nil {
		return nil, err
	}
	t := &Target{c: c, opts: o, paths: map[string]path{}}
	for _, a := range o.Attributes {
		p, err := parsePath(a)
		if err != nil {
			return nil, err
		}
		t.paths[a] = p
	}
	if err := t.discover(ctx); err != nil {
		return nil, fmt.Errorf("scim target %s: %w", c.base.Redacted(), err)
	}
	return t, nil
}

func (t *Target) discover(ctx context.Context) error {
	r, err := t.c.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, nil)
	if err != nil {
		return err
	}
	supported := func(name string) bool {
		m, _ := lookupFold(r.body, name).(map[string]any)
		b, _ := lookupFold(m, "supported").(bool)
		return b
	}
	t.Config = ProviderConfig{Patch: supported("patch"), Filter: supported("filter"), ETag: supported("etag"), Bulk: supported("bulk")}
	number := func(section, name string) int {
		m, _ := lookupFold(r.body, section).(map[string]any)
		n, _ := lookupFold(m, name).(float64)
		return int(n)
	}
	t.Config.MaxResults = number("filter", "maxResults")
	t.Config.BulkMaxOperations = number("bulk", "maxOperations")
	t.Config.BulkMaxPayload = number("bulk", "maxPayloadSize")
	if !t.Config.Patch {
		return fmt.Errorf("the server does not support PATCH; idsync never replaces whole resources")
	}
	return nil
}

// Apply sends one op.
func (t *Target) Apply(ctx context.Context, op connectors.Op) (connectors.Result, error) {
	if op.Object == connectors.Group {
		return t.applyGroup(ctx, op)
	}
	switch op.Action {
	case connectors.Create:
		return t.create(ctx, op)
	case connectors.Update, connectors.Adopt:
		res, err := t.patch(ctx, op, t.patchOps(op.Changes))
		if noTarget(err) {
			// A value-filter replace found no element (an adopted user with
			// no work email yet): add the element to its parent instead.
			return t.patch(ctx, op, t.patchOpsAdding(op.Changes))
		}
		return res, err
	case connectors.Disable, connectors.Enable:
		ops := []map[string]any{{"op": "replace", "path": "active", "value": op.Action == connectors.Enable}}
		return t.patch(ctx, op, ops)
	case connectors.Delete:
		_, err := t.conditional(ctx, http.MethodDelete, "/Users/"+url.PathEscape(op.ID), nil, op.Version)
		return connectors.Result{ID: op.ID}, err
	}
	return connectors.Result{}, connectors.Terminal(nil, "scim: %v of a user is not supported", op.Action)
}

// createBody is the resource a create POSTs.
func (t *Target) createBody(op connectors.Op) (map[string]any, error) {
	res := map[string]any{"schemas": []string{userSchema}}
	for _, c := range op.Changes {
		p, err := t.path(c.Attr)
		if err != nil {
			return nil, err
		}
		p.set(res, c.New)
		if p.urn != "" && !containsSchema(res, p.urn) {
			res["schemas"] = append(res["schemas"].([]string), p.urn)
		}
	}
	res["active"] = !op.Disabled
	if _, set := res["externalId"]; !set && op.Key != "" {
		// The source key, so a create whose answer was lost in a crash can
		// be found again (FindKey) instead of repeated.
		res["externalId"] = op.Key
	}
	return res, nil
}

// FindKey finds users by externalId, which idsync sets to the source key on
// create.
func (t *Target) FindKey(ctx context.Context, key string) ([]connectors.Object, error) {
	objs, err := t.search(ctx, "externalId", []string{key})
	if err != nil {
		return nil, err
	}
	var out []connectors.Object
	for _, o := range objs {
		if id, _ := o["externalId"].(string); id == key {
			out = append(out, t.object(o))
		}
	}
	return out, nil
}

func (t *Target) create(ctx context.Context, op connectors.Op) (connectors.Result, error) {
	res, err := t.createBody(op)
	if err != nil {
		return connectors.Result{}, err
	}
	r, err := t.c.do(ctx, http.MethodPost, "/Users", nil, res)
	if err != nil {
		return connectors.Result{}, err
	}
	id, _ := r.body["id"].(string)
	if id == "" {
		return connectors.Result{}, connectors.Terminal(nil, "POST /Users: response has no id")
	}
	path := "/Users/" + url.PathEscape(id)
	t.remember(path, r)
	return connectors.Result{ID: id, Version: t.version(path)}, nil
}

func containsSchema(res map[string]any, urn string) bool {
	for _, s := range res["schemas"].([]string) {
		if s == urn {
			return true
		}
	}
	return false
}

// patchOps turns changes into PATCH operations: lowercase ops, JSON
// values, a remove for a cleared attribute.
func (t *Target) patchOps(changes []connectors.Change) []map[string]any {
	ops := make([]map[string]any, 0, len(changes))
	for _, c := range changes {
		p, _ := t.path(c.Attr)
		if c.New == nil {
			ops = append(ops, map[string]any{"op": "remove", "path": c.Attr})
			continue
		}
		ops = append(ops, map[string]any{"op": "replace", "path": c.Attr, "value": p.wire(c.New)})
	}
	return ops
}

// patchOpsAdding is patchOps with each value-filter replace turned into an
// add of the whole element to the multi-valued parent.
func (t *Target) patchOpsAdding(changes []connectors.Change) []map[string]any {
	ops := t.patchOps(changes)
	for i, c := range changes {
		p, _ := t.path(c.Attr)
		if p.filterAttr == "" || c.New == nil || p.sub == "" {
			continue
		}
		parent := p.attr
		if p.urn != "" {
			parent = p.urn + ":" + p.attr
		}
		ops[i] = map[string]any{"op": "add", "path": parent, "value": []any{map[string]any{p.filterAttr: p.filterValue, p.sub: c.New}}}
	}
	return ops
}

// noTarget reports the RFC 7644 error for a path that selects nothing.
func noTarget(err error) bool {
	var e *connectors.Error
	return errors.As(err, &e) && strings.Contains(e.Detail, "noTarget")
}

// patch sends a user PATCH and reports the user's new version.
func (t *Target) patch(ctx context.Context, op connectors.Op, ops []map[string]any) (connectors.Result, error) {
	if len(ops) == 0 {
		return connectors.Result{ID: op.ID}, nil
	}
	path := "/Users/" + url.PathEscape(op.ID)
	_, err := t.conditional(ctx, http.MethodPatch, path, patchBody(ops), op.Version)
	return connectors.Result{ID: op.ID, Version: t.version(path)}, err
}

// groupPatch sends a group PATCH (memberships).
func (t *Target) groupPatch(ctx context.Context, id string, ops []map[string]any) (connectors.Result, error) {
	_, err := t.conditional(ctx, http.MethodPatch, "/Groups/"+url.PathEscape(id), patchBody(ops), "")
	return connectors.Result{ID: id}, err
}

func (t *Target) version(path string) string {
	v, _ := t.versions.Load(path)
	s, _ := v.(string)
	return s
}

// conditional sends a write to one resource. With ETags it carries
// If-Match; on 412 (someone changed the resource since idsync last saw it)
// it re-reads the resource and sends the same write once more. The write
// holds only idsync's desired values, so it is still right: what changed
// underneath is either idsync's to set or none of its business.
//
// known is the version idsync stored for the resource; a fresher one seen
// in this run wins.
func (t *Target) conditional(ctx context.Context, method, path string, body any, known string) (response, error) {
	if !t.Config.ETag {
		return t.c.do(ctx, method, path, nil, body)
	}
	for attempt := 0; ; attempt++ {
		tag := t.version(path)
		if tag == "" && attempt == 0 {
			tag = known
		}
		r, err := t.c.doIf(ctx, method, path, nil, body, tag)
		if r.status == http.StatusPreconditionFailed && attempt == 0 {
			if _, err := t.read(ctx, path); err != nil {
				return r, err
			}
			continue
		}
		t.remember(path, r)
		return r, err
	}
}

// read GETs one resource, remembering its version.
func (t *Target) read(ctx context.Context, path string) (response, error) {
	r, err := t.c.do(ctx, http.MethodGet, path, nil, nil)
	if err == nil {
		t.remember(path, r)
	}
	return r, err
}

func (t *Target) remember(path string, r response) {
	if !t.Config.ETag || r.status >= 300 {
		return
	}
	tag := r.etag
	if tag == "" {
		if meta, ok := r.body["meta"].(map[string]any); ok {
			tag, _ = meta["version"].(string)
		}
	}
	if tag != "" {
		t.versions.Store(path, tag)
	}
}

func (t *Target) path(attr string) (path, error) {
	if p, ok := t.paths[attr]; ok {
		return p, nil
	}
	p, err := parsePath(attr)
	if err != nil {
		return p, connectors.Terminal(err, "attribute %s", attr)
	}
	return p, nil
}

// Get reads one user.
func (t *Target) Get(ctx context.Context, id string) (connectors.Object, error) {
	r, err := t.read(ctx, "/Users/"+url.PathEscape(id))
	if err != nil {
		return connectors.Object{}, err
	}
	return t.object(r.body), nil
}

func (t *Target) object(res map[string]any) connectors.Object {
	obj := connectors.Object{Attrs: connectors.Attrs{}}
	obj.ID, _ = res["id"].(string)
	if active, ok := lookupFold(res, "active").(bool); ok {
		obj.Disabled = !active
	}
	for name, p := range t.paths {
		if v := p.get(res); v != nil {
			obj.Attrs[name] = v
		}
	}
	return obj
}

// Match finds users whose attr equals value.
func (t *Target) Match(ctx context.Context, attr string, value connectors.Value) ([]connectors.Object, error) {
	found, err := t.MatchMany(ctx, attr, []connectors.Value{value})
	if err != nil {
		return nil, err
	}
	return found[0], nil
}

// matchChunk values go in one `or` filter: long filters are refused by
// some servers and slow on most.
const matchChunk = 25

// MatchMany finds users for many values with `or` filters, paging through
// results. Every result is checked again here: lenient servers compare
// case-sensitively or ignore a filter they cannot parse, and an adoption
// must never rest on the server's word alone.
func (t *Target) MatchMany(ctx context.Context, attr string, values []connectors.Value) ([][]connectors.Object, error) {
	out := make([][]connectors.Object, len(values))
	p, err := t.path(attr)
	if err != nil {
		return nil, err
	}
	for start := 0; start < len(values); start += matchChunk {
		chunk := values[start:min(start+matchChunk, len(values))]
		strs := make([]string, len(chunk))
		for i, v := range chunk {
			strs[i] = fmt.Sprint(v)
		}
		objs, err := t.search(ctx, attr, strs)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			got := fmt.Sprint(p.get(o))
			for i, s := range strs {
				if strings.EqualFold(got, s) {
					out[start+i] = append(out[start+i], t.object(o))
				}
			}
		}
	}
	return out, nil
}

// search runs an `or` filter over values. A server that refuses the filter
// (some cannot parse an escaped quote) gets the values one by one, and a
// value it still cannot search finds nothing: a create then collides and
// fails safely rather than adopting a guess. Control characters are never
// sent at all.
func (t *Target) search(ctx context.Context, attr string, values []string) ([]map[string]any, error) {
	filter, err := eqFilter(attr, values)
	if err != nil && len(values) == 1 {
		return nil, nil
	}
	if err == nil {
		objs, err := t.list(ctx, "/Users", filter)
		if !refused(err) {
			return objs, err
		}
	}
	if len(values) == 1 {
		return nil, nil
	}
	var out []map[string]any
	for _, v := range values {
		objs, err := t.search(ctx, attr, []string{v})
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// refused reports a 400 for the query itself (invalidFilter and kin).
func refused(err error) bool {
	var e *connectors.Error
	return errors.As(err, &e) && errors.Is(err, connectors.ErrTerminal) && strings.Contains(e.Detail, "HTTP 400")
}

// list pages through a filtered query: 1-based startIndex, short pages,
// and servers that return fewer than asked all end the same way.
func (t *Target) list(ctx context.Context, endpoint, filter string) ([]map[string]any, error) {
	var out []map[string]any
	for index := 1; ; {
		q := url.Values{"filter": {filter}, "startIndex": {strconv.Itoa(index)}, "count": {strconv.Itoa(t.opts.PageSize)}}
		r, err := t.c.do(ctx, http.MethodGet, endpoint, q, nil)
		if err != nil {
			return nil, err
		}
		res, _ := lookupFold(r.body, "Resources").([]any)
		for _, e := range res {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		total, _ := lookupFold(r.body, "totalResults").(float64)
		index += len(res)
		if len(res) == 0 || index > int(total) {
			return out, nil
		}
	}
}

// Close releases idle connections.
func (t *Target) Close() error {
	t.c.http.CloseIdleConnections()
	return nil
}
