package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/idsync/idsync/connectors"
)

// applyGroup creates or deletes a group, or changes its members. A group
// is created empty; members only ever travel in PATCHes of at most the
// engine's membersPerRequest, never as a full list.
func (t *Target) applyGroup(ctx context.Context, op connectors.Op) (connectors.Result, error) {
	switch op.Action {
	case connectors.Create:
		body := map[string]any{"schemas": []string{groupSchema}, "displayName": op.Key, "members": []any{}}
		r, err := t.c.do(ctx, http.MethodPost, "/Groups", nil, body)
		if errors.Is(err, connectors.ErrExists) {
			return t.adoptGroup(ctx, op.Key)
		}
		if err != nil {
			return connectors.Result{}, err
		}
		id, _ := r.body["id"].(string)
		return connectors.Result{ID: id}, nil
	case connectors.Delete:
		_, err := t.c.do(ctx, http.MethodDelete, "/Groups/"+url.PathEscape(op.ID), nil, nil)
		return connectors.Result{ID: op.ID}, err
	case connectors.AddMember:
		value := make([]map[string]any, len(op.Members))
		for i, m := range op.Members {
			value[i] = map[string]any{"value": m}
		}
		return t.groupPatch(ctx, op.ID, []map[string]any{{"op": "add", "path": "members", "value": value}})
	case connectors.RemoveMember:
		ops := make([]map[string]any, 0, len(op.Members))
		for _, m := range op.Members {
			q, err := quote(m)
			if err != nil {
				return connectors.Result{}, connectors.Terminal(err, "member id")
			}
			ops = append(ops, map[string]any{"op": "remove", "path": "members[value eq " + q + "]"})
		}
		return t.groupPatch(ctx, op.ID, ops)
	}
	return connectors.Result{}, connectors.Terminal(nil, "scim: %v of a group is not supported", op.Action)
}

// adoptGroup finds the group a 409 says exists.
func (t *Target) adoptGroup(ctx context.Context, name string) (connectors.Result, error) {
	filter, err := eqFilter("displayName", []string{name})
	if err != nil {
		return connectors.Result{}, connectors.Terminal(err, "group name")
	}
	found, err := t.list(ctx, "/Groups", filter)
	if err != nil {
		return connectors.Result{}, err
	}
	var ids []string
	for _, g := range found {
		if n, _ := lookupFold(g, "displayName").(string); n == name {
			id, _ := g["id"].(string)
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		return connectors.Result{}, connectors.Terminal(connectors.ErrExists, "group %s: create collided, and %d groups have that name", name, len(ids))
	}
	return connectors.Result{ID: ids[0]}, nil
}

// Members lists a group's member ids; a test hook for the conformance
// suite.
func (t *Target) Members(ctx context.Context, groupID string) ([]string, error) {
	r, err := t.c.do(ctx, http.MethodGet, "/Groups/"+url.PathEscape(groupID), nil, nil)
	if err != nil {
		return nil, err
	}
	list, _ := lookupFold(r.body, "members").([]any)
	ids := make([]string, 0, len(list))
	for _, e := range list {
		m, _ := e.(map[string]any)
		ids = append(ids, fmt.Sprint(m["value"]))
	}
	sortIDs(ids)
	return ids, nil
}

// sortIDs orders ids numerically when they are numbers, so listings read
// in creation order on servers with counter ids.
func sortIDs(ids []string) {
	slices.SortFunc(ids, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
}
