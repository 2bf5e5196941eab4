package scimtest

import (
	"fmt"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/scim2/filter-parser/v2"
)

// applyOp applies one PATCH operation (RFC 7644 §3.5.2) to a resource:
// the part of a SCIM server elimity-com/scim leaves to its handlers.
func applyOp(a map[string]any, op scim.PatchOperation) error {
	kind := strings.ToLower(op.Op)
	if op.Path == nil {
		if kind == "remove" {
			return fmt.Errorf("remove needs a path")
		}
		m, ok := op.Value.(map[string]any)
		if !ok {
			return fmt.Errorf("a path-less %s needs an object value", kind)
		}
		for k, v := range m {
			p, err := filter.ParsePath([]byte(k))
			if err != nil {
				return err
			}
			if err := applyOp(a, scim.PatchOperation{Op: kind, Path: &p, Value: v}); err != nil {
				return err
			}
		}
		return nil
	}
	p := op.Path
	obj := a
	if p.AttributePath.URIPrefix != nil {
		urn := *p.AttributePath.URIPrefix
		ext, _ := a[urn].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			a[urn] = ext
		}
		obj = ext
	}
	name := p.AttributePath.AttributeName
	sub := p.AttributePath.SubAttribute
	if p.ValueExpression == nil {
		switch {
		case kind == "remove" && sub == nil:
			delete(obj, name)
		case kind == "remove":
			if m, ok := obj[name].(map[string]any); ok {
				delete(m, *sub)
			}
		case sub != nil:
			m, _ := obj[name].(map[string]any)
			if m == nil {
				m = map[string]any{}
				obj[name] = m
			}
			m[*sub] = op.Value
		case kind == "add":
			if list, ok := op.Value.([]any); ok {
				old, _ := obj[name].([]any)
				obj[name] = appendNew(old, list)
			} else {
				obj[name] = op.Value
			}
		default:
			obj[name] = op.Value
		}
		return nil
	}
	expr, ok := p.ValueExpression.(*filter.AttributeExpression)
	if !ok || expr.Operator != filter.EQ {
		return fmt.Errorf("only [attr eq value] filters are supported in paths")
	}
	list, _ := obj[name].([]any)
	matches := func(e any) bool {
		m, _ := e.(map[string]any)
		return fmt.Sprint(m[expr.AttributePath.AttributeName]) == fmt.Sprint(expr.CompareValue)
	}
	if kind == "remove" {
		kept := list[:0:0]
		for _, e := range list {
			if !matches(e) {
				kept = append(kept, e)
			}
		}
		obj[name] = kept
		return nil
	}
	found := false
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && matches(e) {
			found = true
			if p.SubAttribute != nil {
				m[*p.SubAttribute] = op.Value
			}
		}
	}
	if !found && p.SubAttribute != nil {
		obj[name] = append(list, map[string]any{expr.AttributePath.AttributeName: expr.CompareValue, *p.SubAttribute: op.Value})
	}
	return nil
}

// appendNew adds members not already present, matched by value.
func appendNew(list, add []any) []any {
	seen := map[string]bool{}
	for _, e := range list {
		m, _ := e.(map[string]any)
		seen[fmt.Sprint(m["value"])] = true
	}
	for _, e := range add {
		m, _ := e.(map[string]any)
		if v := fmt.Sprint(m["value"]); !seen[v] {
			seen[v] = true
			list = append(list, e)
		}
	}
	return list
}
