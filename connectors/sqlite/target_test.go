package sqlite

import (
	"path/filepath"
	"testing"

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
