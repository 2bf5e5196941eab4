package scim

import (
	"fmt"
	"strings"
)

// Schema URNs.
const (
	userSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchSchema      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listSchema       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

// path is one managed attribute, parsed from its SCIM path.
type path struct {
	raw string
	// urn is the extension schema, or "" for the core schema.
	urn  string
	attr string
	sub  string
	// filterAttr/filterValue select one element of a multi-valued
	// attribute: emails[type eq "work"].value.
	filterAttr, filterValue string
}

func parsePath(raw string) (path, error) {
	p := path{raw: raw}
	rest := raw
	if strings.HasPrefix(raw, "urn:") {
		i := strings.LastIndex(raw, ":")
		p.urn, rest = raw[:i], raw[i+1:]
	}
	if open := strings.Index(rest, "["); open >= 0 {
		end := strings.Index(rest, "]")
		if end < open {
			return p, fmt.Errorf("scim attribute %q: unclosed [", raw)
		}
		f := strings.Fields(rest[open+1 : end])
		if len(f) != 3 || f[1] != "eq" || !strings.HasPrefix(f[2], `"`) || !strings.HasSuffix(f[2], `"`) {
			return p, fmt.Errorf(`scim attribute %q: only [attr eq "value"] filters are supported`, raw)
		}
		p.filterAttr, p.filterValue = f[0], strings.Trim(f[2], `"`)
		rest = rest[:open] + rest[end+1:]
	}
	p.attr, p.sub, _ = strings.Cut(rest, ".")
	if p.attr == "" {
		return p, fmt.Errorf("scim attribute %q: empty name", raw)
	}
	return p, nil
}

// isManager is the enterprise manager: a complex value holding an id.
func (p path) isManager() bool { return p.urn == enterpriseSchema && p.attr == "manager" }

// wire converts a value for sending: the manager reference becomes
// {"value": id}.
func (p path) wire(v any) any {
	if p.isManager() && p.sub == "" {
		return map[string]any{"value": v}
	}
	return v
}

// set writes v into a resource being built for a create.
func (p path) set(res map[string]any, v any) {
	obj := res
	if p.urn != "" {
		obj = child(res, p.urn)
	}
	switch {
	case p.filterAttr != "":
		elem := map[string]any{p.filterAttr: p.filterValue}
		list, _ := obj[p.attr].([]any)
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && m[p.filterAttr] == p.filterValue {
				elem = m
			}
		}
		if p.sub != "" {
			elem[p.sub] = v
		}
		if len(list) == 0 {
			elem["primary"] = true
			obj[p.attr] = []any{elem}
		}
	case p.sub != "":
		child(obj, p.attr)[p.sub] = v
	default:
		obj[p.attr] = p.wire(v)
	}
}

// get reads the attribute back from a resource returned by the server.
func (p path) get(res map[string]any) any {
	obj := res
	if p.urn != "" {
		obj, _ = res[p.urn].(map[string]any)
	}
	if obj == nil {
		return nil
	}
	v := lookupFold(obj, p.attr)
	if p.filterAttr != "" {
		list, _ := v.([]any)
		v = nil
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && fmt.Sprint(lookupFold(m, p.filterAttr)) == p.filterValue {
				v = m
			}
		}
	}
	if p.isManager() && p.sub == "" {
		if m, ok := v.(map[string]any); ok {
			return m["value"]
		}
	}
	if p.sub != "" {
		m, _ := v.(map[string]any)
		return lookupFold(m, p.sub)
	}
	return v
}

func child(m map[string]any, key string) map[string]any {
	c, ok := m[key].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

// lookupFold reads a key case-insensitively: SCIM attribute names are.
func lookupFold(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}
