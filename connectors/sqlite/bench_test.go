package sqlite

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/idsync/idsync/connectors"
)

// BenchmarkFirstLoad is a first sync into an empty table, as apply sends
// it: 100k creates of ten attributes in bulks, then each user added to
// one of 12 groups, membersPerRequest (1000) at a time. Per user.
//
//	go test ./connectors/sqlite -run '^$' -bench FirstLoad -count 4
func BenchmarkFirstLoad(b *testing.B) {
	const users, groups = 100_000, 12
	attrs := []string{"userName", "displayName", "givenName", "surname", "mail", "department", "title", "country", "manager", "active"}
	ops := make([]connectors.Op, users)
	for i := range ops {
		key := fmt.Sprintf("E%07d", i)
		ops[i] = connectors.Op{Action: connectors.Create, Key: key}
		for _, a := range attrs {
			ops[i].Changes = append(ops[i].Changes, connectors.Change{Attr: a, New: a + "-" + key})
		}
	}
	for b.Loop() {
		b.StopTimer()
		tg, err := Open(b.Context(), Options{Path: filepath.Join(b.TempDir(), "d.db"), Attributes: attrs})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		ids := make([]string, 0, users)
		for start := 0; start < users; start += bulkSize {
			res, errs := tg.ApplyBulk(b.Context(), ops[start:min(start+bulkSize, users)])
			for i, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, res[i].ID)
			}
		}
		for g := range groups {
			res, err := tg.Apply(b.Context(), connectors.Op{Action: connectors.Create, Object: connectors.Group, Key: "g" + strconv.Itoa(g)})
			if err != nil {
				b.Fatal(err)
			}
			var members []string
			for i := g; i < users; i += groups {
				if members = append(members, ids[i]); len(members) == 1000 || i+groups >= users {
					if _, err := tg.Apply(b.Context(), connectors.Op{Action: connectors.AddMember, Object: connectors.Group, ID: res.ID, Members: members}); err != nil {
						b.Fatal(err)
					}
					members = members[:0]
				}
			}
		}
		b.StopTimer()
		if err := tg.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*users), "ns/user")
}
