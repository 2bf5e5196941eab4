package pipeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/idsync/idsync/snapshots"
)

const groupsConfig = `state: state
sources:
  hr:
    type: csv
    path: hr.csv
    key: id
    schema: {id: string, name: string, dept: string}
targets:
  dir:
    type: sqlite
    path: dir.db
    source: hr
    groups: '["all", user.dept]'
    attributes:
      name: user.name
`

// TestV4GroupsMoveOutOfTheAttributes rewrites a store as v4 kept it (each
// user's groups inside its stored attributes, under "_groups") and checks
// that the first engine on it moves them to their own key: a changed
// record's plan sees its memberships and plans only the change, and the
// attributes no longer hold them.
func TestV4GroupsMoveOutOfTheAttributes(t *testing.T) {
	f := newFixture(t, map[string]string{"idsync.yaml": groupsConfig, "hr.csv": "id,name,dept\nE1,Ann,a\nE2,Bo,b\nE3,Cy,a\n"})
	f.apply(nil, ApplyOptions{})
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(f.dir, "state")
	toV4(t, dir)

	store, err := snapshots.Open(dir, snapshots.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f.store = store
	if legacy, err := store.LegacyGroups(); err != nil || !legacy {
		t.Fatalf("after opening a v4 store: legacy groups %v, %v; want the move marked as to do", legacy, err)
	}
	// E3 changes, so the plan evaluates it and diffs its groups.
	f.write(map[string]string{"hr.csv": "id,name,dept\nE1,Ann,a\nE2,Bo,b\nE3,Cyd,a\n"})
	if ops := opList(f.plan(nil)); strings.Join(ops, "; ") != "dir update E3 name" {
		t.Errorf("first plan after the upgrade: %v, want only E3's new name", ops)
	}
	if legacy, _ := store.LegacyGroups(); legacy {
		t.Error("the move is still marked as to do")
	}
	groups, err := store.Groups("dir", "E3")
	if err != nil || strings.Join(groups, ",") != "a,all" {
		t.Errorf("E3's groups: %q, %v; want a and all", groups, err)
	}
	en, _, _ := store.Get("dir", "E3")
	if strings.Contains(string(en.Attrs), groupsAttr) {
		t.Errorf("E3's attributes still hold its groups: %s", en.Attrs)
	}
}

// toV4 puts each user's groups back into its attributes, and both back
// where v4 kept them ("a" target NUL key, from v9's "r" key NUL target NUL
// kind), and marks the store v4, as that version left it.
func toV4(t *testing.T, dir string) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	attrs := map[string]map[string]any{} // by v4 key
	moved := 0
	err = db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("r")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			rest := k[1 : len(k)-2]
			at := bytes.LastIndexByte(rest, 0)
			old := string(append(append(append([]byte("a"), rest[at+1:]...), 0), rest[:at]...))
			if attrs[old] == nil {
				attrs[old] = map[string]any{}
			}
			switch k[len(k)-1] {
			case 'a':
				a := attrs[old]
				if err := json.Unmarshal(v, &a); err != nil {
					return err
				}
			case 'n':
				var groups []string
				for len(v) > 0 {
					n, w := binary.Uvarint(v)
					groups, v = append(groups, string(v[w:w+int(n)])), v[w+int(n):]
				}
				attrs[old][groupsAttr] = groups
				moved++
			}
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		for k, a := range attrs {
			raw, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := txn.Set([]byte(k), raw); err != nil {
				return err
			}
		}
		return txn.Set([]byte("m/version"), binary.BigEndian.AppendUint64(nil, 4))
	})
	if err != nil {
		t.Fatal(err)
	}
	if moved != 3 {
		t.Fatalf("moved the groups of %d users back, want 3", moved)
	}
}
