package scimtest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// StartStrict runs github.com/elimity-com/scim in-process. It validates
// requests strictly (schemas, filters, attribute types); the in-memory
// storage behind it is ours.
func StartStrict(t testing.TB) *Server {
	t.Helper()
	st := &store{users: map[string]scim.ResourceAttributes{}, groups: map[string]scim.ResourceAttributes{}, names: map[string]string{}}
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{SupportFiltering: true, SupportPatch: true, MaxResults: 50},
		ResourceTypes: []scim.ResourceType{
			{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Schema: schema.CoreUserSchema(),
				SchemaExtensions: []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
				Handler:          &handler{st: st, kind: "user"}},
			{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Schema: schema.CoreGroupSchema(),
				Handler: &handler{st: st, kind: "group"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, "strict (elimity-com/scim)", srv)
	s.users = func() map[string]map[string]any { return st.snapshot(st.users) }
	s.groups = func() map[string]map[string]any { return st.snapshot(st.groups) }
	return s
}

// store is the in-memory state behind the strict server.
type store struct {
	mu     sync.Mutex
	next   int
	users  map[string]scim.ResourceAttributes
	groups map[string]scim.ResourceAttributes
	// names indexes kind+folded unique name -> id, so a create checks
	// uniqueness in O(1) and the server is never the bottleneck of a
	// benchmark.
	names map[string]string
}

// snapshot returns deep-enough copies of a table's resources, keyed by id.
func (s *store) snapshot(table map[string]scim.ResourceAttributes) map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]any{}
	for id, u := range table {
		out[id] = clone(u)
	}
	return out
}

type handler struct {
	st   *store
	kind string
}

func (h *handler) table() map[string]scim.ResourceAttributes {
	if h.kind == "user" {
		return h.st.users
	}
	return h.st.groups
}

// unique is the attribute the app keeps unique, case-insensitively.
func (h *handler) unique() string {
	if h.kind == "user" {
		return "userName"
	}
	return "displayName"
}

func (h *handler) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	name := h.nameKey(attrs)
	if _, taken := h.st.names[name]; taken {
		return scim.Resource{}, scimerrors.ScimErrorUniqueness
	}
	h.st.next++
	id := strconv.Itoa(h.st.next)
	h.table()[id] = clone(attrs)
	h.st.names[name] = id
	return resource(id, attrs), nil
}

func (h *handler) Get(_ *http.Request, id string) (scim.Resource, error) {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	a, ok := h.table()[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return resource(id, a), nil
}

func (h *handler) GetAll(_ *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	ids := make([]string, 0, len(h.table()))
	for id := range h.table() {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	var match []scim.Resource
	for _, id := range ids {
		a := clone(h.table()[id])
		a["id"] = id
		if p.FilterValidator != nil && p.FilterValidator.PassesFilter(a) != nil {
			continue
		}
		match = append(match, resource(id, h.table()[id]))
	}
	page := scim.Page{TotalResults: len(match), Resources: []scim.Resource{}}
	start := max(p.StartIndex, 1) - 1
	if start < len(match) {
		page.Resources = match[start:min(start+p.Count, len(match))]
	}
	return page, nil
}

func (h *handler) Replace(*http.Request, string, scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, scimerrors.ScimErrorBadRequest("PUT is not offered; use PATCH")
}

func (h *handler) Delete(_ *http.Request, id string) error {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	a, ok := h.table()[id]
	if !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	delete(h.st.names, h.nameKey(a))
	delete(h.table(), id)
	if h.kind == "user" { // like a real app, a deleted user leaves its groups
		for _, g := range h.st.groups {
			g["members"] = withoutMember(g["members"], id)
		}
	}
	return nil
}

func (h *handler) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	a, ok := h.table()[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	before := h.nameKey(a)
	for _, op := range ops {
		if err := applyOp(a, op); err != nil {
			return scim.Resource{}, scimerrors.ScimErrorBadRequest(err.Error())
		}
	}
	if after := h.nameKey(a); after != before {
		if _, taken := h.st.names[after]; taken {
			return scim.Resource{}, scimerrors.ScimErrorUniqueness
		}
		delete(h.st.names, before)
		h.st.names[after] = id
	}
	return resource(id, a), nil
}

func (h *handler) nameKey(a scim.ResourceAttributes) string {
	v, _ := a[h.unique()].(string)
	return h.kind + "\x00" + strings.ToLower(v)
}

func resource(id string, a scim.ResourceAttributes) scim.Resource {
	return scim.Resource{ID: id, Attributes: clone(a)}
}

func clone(a map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		switch x := v.(type) {
		case map[string]any:
			out[k] = clone(x)
		case []any:
			out[k] = slices.Clone(x)
		default:
			out[k] = v
		}
	}
	return out
}

func withoutMember(members any, id string) []any {
	list, _ := members.([]any)
	return slices.DeleteFunc(slices.Clone(list), func(e any) bool {
		m, _ := e.(map[string]any)
		return fmt.Sprint(m["value"]) == id
	})
}
