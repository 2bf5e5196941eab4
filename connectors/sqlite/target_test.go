package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/conformance"
)

func open(t *testing.T) connectors.Target {
	t.Helper()
	tg, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "dir.db"),
		Attributes: []string{"userName", "displayName", "department"}})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestConformance(t *testing.T) { conformance.Run(t, open, conformance.Defaults) }

func TestReservedAttributeNames(t *testing.T) {
	for _, name := range []string{"id", "_disabled"} {
		_, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "d.db"), Attributes: []string{name}})
		if err == nil {
			t.Errorf("attribute %q: want an error, it is reserved", name)
		}
	}
}

func TestNewAttributeAddsAColumnAndKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	tg, err := Open(t.Context(), Options{Path: path, Attributes: []string{"userName"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tg.Apply(t.Context(), connectors.Op{Action: connectors.Create, Key: "E1", Changes: []connectors.Change{{Attr: "userName", New: "ann"}}})
	if err != nil {
		t.Fatal(err)
	}
	tg.Close()
	tg2, err := Open(t.Context(), Options{Path: path, Attributes: []string{"userName", "title"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg2.Close()
	obj, err := tg2.Get(t.Context(), res.ID)
	if err != nil || obj.Attrs["userName"] != "ann" {
		t.Fatalf("after adding a column: %+v, %v", obj, err)
	}
}

// TestTypedReadBack: booleans and lists come back as written, not as the
// 0/1 and JSON text SQLite holds, so an adopted or recovered row does not
// look changed. An untyped attribute keeps what is stored.
func TestTypedReadBack(t *testing.T) {
	tg, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "d.db"),
		Attributes: []string{"active", "roles", "level"}, Types: map[string]string{"active": "bool", "roles": "list"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	res, err := tg.Apply(t.Context(), connectors.Op{Action: connectors.Create, Key: "E1", Changes: []connectors.Change{
		{Attr: "active", New: true}, {Attr: "roles", New: []string{"a", "b"}}, {Attr: "level", New: int64(1)}}})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := tg.Get(t.Context(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := connectors.Attrs{"active": true, "roles": []string{"a", "b"}, "level": int64(1)}
	if diff := cmp.Diff(want, obj.Attrs); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
}
