package population

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Person is one HR record. Field names are the CSV header.
type Person struct {
	EmployeeID string `json:"employeeId"`
	GivenName  string `json:"givenName"`
	Surname    string `json:"surname"`
	Department string `json:"department"`
	Title      string `json:"title"`
	ManagerID  string `json:"managerId"`
	Status     string `json:"status"` // Active, Leave or Terminated
	HireDate   string `json:"hireDate"`
	Country    string `json:"country"`
}

// Header is the CSV header, in column order.
var Header = []string{"employeeId", "givenName", "surname", "department", "title", "managerId", "status", "hireDate", "country"}

func (p *Person) row() []string {
	return []string{p.EmployeeID, p.GivenName, p.Surname, p.Department, p.Title, p.ManagerID, p.Status, p.HireDate, p.Country}
}

// Options shape a population.
type Options struct {
	// N is the number of people.
	N int
	// Seed makes the output reproducible.
	Seed uint64
	// Today anchors hire dates; some hires are up to 60 days after it.
	Today time.Time
}

// Generate returns N people with a manager hierarchy (fan-out about 8).
func Generate(o Options) []Person {
	r := rand.New(rand.NewPCG(o.Seed, 0x1d5ac))
	people := make([]Person, o.N)
	for i := range people {
		people[i] = newPerson(r, i, o.Today)
		if i > 0 {
			people[i].ManagerID = people[(i-1)/8].EmployeeID
		}
	}
	return people
}

// ID returns the employee id of the i-th generated person.
func ID(i int) string { return fmt.Sprintf("E%06d", 100001+i) }

func newPerson(r *rand.Rand, i int, today time.Time) Person {
	p := Person{
		EmployeeID: ID(i),
		GivenName:  givenNames[r.IntN(len(givenNames))],
		Surname:    surnames[r.IntN(len(surnames))],
		Department: departments[r.IntN(len(departments))],
		Title:      titles[r.IntN(len(titles))],
		Status:     "Active",
		Country:    countries[r.IntN(len(countries))],
	}
	switch x := r.IntN(100); {
	case x < 2:
		p.Status = "Terminated"
	case x < 5:
		p.Status = "Leave"
	}
	days := r.IntN(15 * 365)
	if r.IntN(100) == 0 {
		days = -1 - r.IntN(60) // a future-dated hire
	}
	p.HireDate = today.AddDate(0, 0, -days).Format("2006-01-02")
	return p
}

// Changes is a change set to apply to a population.
type Changes struct {
	Hires, Moves, Renames, ManagerChanges, Terminations, Rehires int
}

// Change applies c to a copy of people, choosing who changes with the seed.
// Each person changes in at most one way, so the expected ops are easy to
// reason about. New hires get ids after every existing one.
func Change(people []Person, c Changes, seed uint64, today time.Time) []Person {
	r := rand.New(rand.NewPCG(seed, 0xc4a1e))
	out := slices.Clone(people)
	var active, terminated []int
	for i, p := range out {
		if p.Status == "Terminated" {
			terminated = append(terminated, i)
		} else if i > 0 {
			active = append(active, i)
		}
	}
	r.Shuffle(len(active), func(i, j int) { active[i], active[j] = active[j], active[i] })
	take := func(n int) []int {
		n = min(n, len(active))
		picked := active[:n]
		active = active[n:]
		return picked
	}
	for _, i := range take(c.Moves) {
		out[i].Department = other(r, departments, out[i].Department)
	}
	for _, i := range take(c.Renames) {
		out[i].Surname = other(r, surnames, out[i].Surname)
	}
	for _, i := range take(c.ManagerChanges) {
		// Any earlier employee but the current manager keeps the tree a tree.
		for m := out[i].ManagerID; m == out[i].ManagerID; {
			out[i].ManagerID = out[r.IntN(i)].EmployeeID
			if i == 1 {
				break // only the first employee can manage the second
			}
		}
	}
	for _, i := range take(c.Terminations) {
		out[i].Status = "Terminated"
	}
	for _, i := range terminated[:min(c.Rehires, len(terminated))] {
		out[i].Status = "Active"
		out[i].Department = other(r, departments, out[i].Department)
	}
	next := len(people)
	for k := range c.Hires {
		p := newPerson(r, next+k, today)
		p.Status = "Active"
		p.HireDate = today.Format("2006-01-02")
		p.ManagerID = out[r.IntN(len(people))].EmployeeID
		out = append(out, p)
	}
	return out
}

func other(r *rand.Rand, from []string, not string) string {
	for {
		if v := from[r.IntN(len(from))]; v != not {
			return v
		}
	}
}

// WriteCSV writes people with a header row.
func WriteCSV(w io.Writer, people []Person) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header); err != nil {
		return err
	}
	for i := range people {
		if err := cw.Write(people[i].row()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSONL writes one JSON object per person.
func WriteJSONL(w io.Writer, people []Person) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range people {
		if err := enc.Encode(&people[i]); err != nil {
			return err
		}
	}
	return nil
}

// Key returns a stable string of a person's fields, for tests.
func (p *Person) Key() string { return strings.Join(p.row(), "\x1f") }
