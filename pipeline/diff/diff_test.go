package diff

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
)

var testPolicy = Policy{
	Deprovision: DisableObject,
	Attrs: []AttrPolicy{
		{Name: "userName", IgnoreCase: true},
		{Name: "department"},
		{Name: "groups"},
		{Name: "phone", ClearOnNull: true},
	},
}

func TestPresent(t *testing.T) {
	attrs := connectors.Attrs{"userName": "ann", "department": "Sales", "groups": []string{"a", "b"}}
	tests := map[string]struct {
		policy  Policy
		desired Desired
		stored  *Stored
		want    []connectors.Op
	}{
		"new in scope is created with non-empty attributes": {
			desired: Desired{Key: "E1", InScope: true, Enabled: true, Attrs: connectors.Attrs{"userName": "ann", "department": "", "groups": []string{"a"}}},
			want: []connectors.Op{{Action: connectors.Create, Key: "E1", Reason: ReasonNew, Changes: []connectors.Change{
				{Attr: "userName", New: "ann"}, {Attr: "groups", New: []string{"a"}}}}},
		},
		"new out of scope is nothing": {
			desired: Desired{Key: "E1"},
		},
		"unchanged is nothing, whatever the case and list order": {
			desired: Desired{Key: "E1", InScope: true, Enabled: true, Attrs: attrs},
			stored:  &Stored{ID: "7", Attrs: connectors.Attrs{"userName": "ANN", "department": "Sales", "groups": []string{"b", "a", "b"}}},
		},
		"a change updates only that attribute, with its old value": {
			desired: Desired{Key: "E1", InScope: true, Enabled: true, Attrs: connectors.Attrs{"userName": "ann", "department": "Legal", "groups": []string{"a", "b"}}},
			stored:  &Stored{ID: "7", Attrs: attrs},
			want: []connectors.Op{{Action: connectors.Update, Key: "E1", ID: "7", Reason: ReasonChanged,
				Changes: []connectors.Change{{Attr: "department", Old: "Sales", New: "Legal"}}}},
		},
		"null leaves the target value unless clearOnNull": {
			desired: Desired{Key: "E1", InScope: true, Enabled: true, Attrs: connectors.Attrs{"userName": "ann", "department": nil, "groups": []string{"a", "b"}, "phone": nil}},
			stored:  &Stored{ID: "7", Attrs: connectors.Attrs{"userName": "ann", "department": "Sales", "groups": []string{"a", "b"}, "phone": "555"}},
			want: []connectors.Op{{Action: connectors.Update, Key: "E1", ID: "7", Reason: ReasonChanged,
				Changes: []connectors.Change{{Attr: "phone", Old: "555", New: nil}}}},
		},
		"leaving scope disables": {
			desired: Desired{Key: "E1"},
			stored:  &Stored{ID: "7", Attrs: attrs},
			want:    []connectors.Op{{Action: connectors.Disable, Key: "E1", ID: "7", Reason: ReasonLeftScope}},
		},
		"leaving scope when already deprovisioned is nothing": {
			desired: Desired{Key: "E1"},
			stored:  &Stored{ID: "7", Disabled: true, Deprovisioned: true, Attrs: attrs},
		},
		"leaving scope while inactive disables again, now as deprovisioned": {
			desired: Desired{Key: "E1"},
			stored:  &Stored{ID: "7", Disabled: true, Attrs: attrs},
			want:    []connectors.Op{{Action: connectors.Disable, Key: "E1", ID: "7", Reason: ReasonLeftScope}},
		},
		"leaving scope deletes under delete policy, even when disabled": {
			policy:  Policy{Deprovision: DeleteObject, Attrs: testPolicy.Attrs},
			desired: Desired{Key: "E1"},
			stored:  &Stored{ID: "7", Disabled: true, Attrs: attrs},
			want:    []connectors.Op{{Action: connectors.Delete, Key: "E1", ID: "7", Reason: ReasonLeftScope}},
		},
		"leaving scope under ignore is nothing": {
			policy:  Policy{Deprovision: Ignore, Attrs: testPolicy.Attrs},
			desired: Desired{Key: "E1"},
			stored:  &Stored{ID: "7", Attrs: attrs},
		},
		"rehire enables the same object and updates it": {
			desired: Desired{Key: "E1", InScope: true, Enabled: true, Attrs: connectors.Attrs{"userName": "ann", "department": "Legal", "groups": []string{"a", "b"}}},
			stored:  &Stored{ID: "7", Disabled: true, Deprovisioned: true, Attrs: attrs},
			want: []connectors.Op{
				{Action: connectors.Enable, Key: "E1", ID: "7", Reason: ReasonRehire},
				{Action: connectors.Update, Key: "E1", ID: "7", Reason: ReasonRehire, Changes: []connectors.Change{{Attr: "department", Old: "Sales", New: "Legal"}}},
			},
		},
		"a future hire is created disabled": {
			desired: Desired{Key: "E1", InScope: true, Attrs: connectors.Attrs{"userName": "ann"}},
			want: []connectors.Op{{Action: connectors.Create, Key: "E1", Reason: ReasonNew, Disabled: true,
				Changes: []connectors.Change{{Attr: "userName", New: "ann"}}}},
		},
		"the start date comes: enable": {
			desired: Desired{Key: "E1", InScope: true, Enabled: true, Attrs: attrs},
			stored:  &Stored{ID: "7", Disabled: true, Attrs: attrs},
			want:    []connectors.Op{{Action: connectors.Enable, Key: "E1", ID: "7", Reason: ReasonActivated}},
		},
		"inactive while in scope: disable as deactivated": {
			desired: Desired{Key: "E1", InScope: true, Attrs: attrs},
			stored:  &Stored{ID: "7", Attrs: attrs},
			want:    []connectors.Op{{Action: connectors.Disable, Key: "E1", ID: "7", Reason: ReasonDeactivated}},
		},
		"rehired with a future start: stays disabled, no longer deprovisioned": {
			desired: Desired{Key: "E1", InScope: true, Attrs: connectors.Attrs{"userName": "ann", "department": "Legal", "groups": []string{"a", "b"}}},
			stored:  &Stored{ID: "7", Disabled: true, Deprovisioned: true, Attrs: attrs},
			want: []connectors.Op{
				{Action: connectors.Disable, Key: "E1", ID: "7", Reason: ReasonDeactivated},
				{Action: connectors.Update, Key: "E1", ID: "7", Reason: ReasonRehire, Changes: []connectors.Change{{Attr: "department", Old: "Sales", New: "Legal"}}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := tc.policy
			if p.Deprovision == 0 {
				p = testPolicy
			}
			got := Present(p, tc.desired, tc.stored)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: ops (-want +got):\n%s", name, diff)
			}
		})
	}
}

func TestAbsent(t *testing.T) {
	got := Absent(testPolicy, "E1", &Stored{ID: "7"}, ReasonAbsent)
	want := []connectors.Op{{Action: connectors.Disable, Key: "E1", ID: "7", Reason: ReasonAbsent}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("absent active object (-want +got):\n%s", diff)
	}
	if got := Absent(testPolicy, "E1", &Stored{ID: "7", Disabled: true, Deprovisioned: true}, ReasonTombstone); got != nil {
		t.Errorf("absent disabled object: got %v, want no ops", got)
	}
}

func TestAdoptWritesOnlyDifferences(t *testing.T) {
	d := Desired{Key: "E1", InScope: true, Enabled: true, Attrs: connectors.Attrs{"userName": "ann", "department": "Sales"}}
	got := Adopt(testPolicy, d, connectors.Object{ID: "9", Attrs: connectors.Attrs{"userName": "ANN", "department": "Ops"}})
	want := connectors.Op{Action: connectors.Adopt, Key: "E1", ID: "9", Reason: ReasonMatch,
		Changes: []connectors.Change{{Attr: "department", Old: "Ops", New: "Sales"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("adopt (-want +got):\n%s", diff)
	}
}

func TestCreateOnlyReferencesAndGroups(t *testing.T) {
	p := Policy{Deprovision: DisableObject, Groups: true, Attrs: []AttrPolicy{
		{Name: "userName"}, {Name: "password", CreateOnly: true}, {Name: "manager", Reference: true},
	}}
	d := Desired{Key: "E2", InScope: true, Enabled: true, Groups: []string{"Sales", "All", "Sales"},
		Attrs: connectors.Attrs{"userName": "bo", "password": "pw1", "manager": "E1"}}
	want := []connectors.Op{
		{Action: connectors.Create, Key: "E2", Reason: ReasonNew, Changes: []connectors.Change{{Attr: "userName", New: "bo"}, {Attr: "password", New: "pw1"}}},
		{Action: connectors.Update, Key: "E2", Reason: ReasonNew, Changes: []connectors.Change{{Attr: "manager", New: "E1"}}},
		{Action: connectors.AddMember, Key: "E2", Group: "All", Reason: ReasonNew},
		{Action: connectors.AddMember, Key: "E2", Group: "Sales", Reason: ReasonNew},
	}
	if diff := cmp.Diff(want, Present(p, d, nil)); diff != "" {
		t.Errorf("create (-want +got):\n%s", diff)
	}
	// Later: a new password is computed but never sent; the manager changes
	// once; one group is left, one joined, one kept.
	d.Attrs = connectors.Attrs{"userName": "bo", "password": "pw2", "manager": "E3"}
	d.Groups = []string{"All", "Ops"}
	stored := &Stored{ID: "9", Attrs: connectors.Attrs{"userName": "bo", "password": "pw1", "manager": "E1"}, Groups: []string{"All", "Sales"}}
	want = []connectors.Op{
		{Action: connectors.Update, Key: "E2", ID: "9", Reason: ReasonChanged, Changes: []connectors.Change{{Attr: "manager", Old: "E1", New: "E3"}}},
		{Action: connectors.AddMember, Key: "E2", Group: "Ops", Reason: ReasonChanged},
		{Action: connectors.RemoveMember, Key: "E2", Group: "Sales", Reason: ReasonChanged},
	}
	if diff := cmp.Diff(want, Present(p, d, stored)); diff != "" {
		t.Errorf("later (-want +got):\n%s", diff)
	}
}

func TestEqual(t *testing.T) {
	tests := map[string]struct {
		a, b       connectors.Value
		ignoreCase bool
		want       bool
	}{
		"same string":              {a: "x", b: "x", want: true},
		"case differs":             {a: "X", b: "x", want: false},
		"case differs, ignored":    {a: "X", b: "x", ignoreCase: true, want: true},
		"null and empty":           {a: nil, b: "", want: true},
		"null and value":           {a: nil, b: "x", want: false},
		"int and float by value":   {a: int64(3), b: 3.0, want: true},
		"int differs":              {a: int64(3), b: int64(4), want: false},
		"bool":                     {a: true, b: true, want: true},
		"bool vs string":           {a: true, b: "true", want: false},
		"set order and duplicates": {a: []string{"a", "b"}, b: []string{"b", "a", "a"}, want: true},
		"set differs":              {a: []string{"a"}, b: []string{"a", "c"}, want: false},
		"set case ignored":         {a: []string{"A"}, b: []string{"a"}, ignoreCase: true, want: true},
		"empty list and null":      {a: []string{}, b: nil, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Equal(tc.a, tc.b, tc.ignoreCase); got != tc.want {
				t.Errorf("%s: Equal(%#v, %#v) = %v, want %v", name, tc.a, tc.b, got, tc.want)
			}
		})
	}
}
