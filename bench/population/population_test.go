package population

import (
	"testing"
	"time"
)

var today = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

func TestGenerateIsSeededAndHierarchical(t *testing.T) {
	a := Generate(Options{N: 500, Seed: 1, Today: today})
	b := Generate(Options{N: 500, Seed: 1, Today: today})
	c := Generate(Options{N: 500, Seed: 2, Today: today})
	same, differ := true, false
	for i := range a {
		same = same && a[i] == b[i]
		differ = differ || a[i] != c[i]
		if i > 0 && a[i].ManagerID >= a[i].EmployeeID {
			t.Fatalf("person %d's manager %s is not an earlier employee", i, a[i].ManagerID)
		}
	}
	if !same || !differ {
		t.Errorf("same seed same people: %v; other seed differs: %v", same, differ)
	}
	if a[0].ManagerID != "" {
		t.Errorf("the first employee has manager %q, want none", a[0].ManagerID)
	}
}

func TestChangeAppliesExactlyTheCounts(t *testing.T) {
	before := Generate(Options{N: 1000, Seed: 7, Today: today})
	c := Changes{Hires: 15, Moves: 10, Renames: 5, ManagerChanges: 10, Terminations: 8, Rehires: 1}
	after := Change(before, c, 11, today)
	var got Changes
	for i, p := range after {
		if i >= len(before) {
			got.Hires++
			continue
		}
		q := before[i]
		switch {
		case q.Status == "Terminated" && p.Status == "Active":
			got.Rehires++
		case p.Status == "Terminated" && q.Status != "Terminated":
			got.Terminations++
		case p.Department != q.Department:
			got.Moves++
		case p.Surname != q.Surname:
			got.Renames++
		case p.ManagerID != q.ManagerID:
			got.ManagerChanges++
		}
	}
	if got != c {
		t.Errorf("changes applied = %+v, want %+v", got, c)
	}
}
