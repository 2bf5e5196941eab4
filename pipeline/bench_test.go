package pipeline

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/idsync/idsync/bench/population"
)

// benchFixture is the quickstart policy over n generated people.
func benchFixture(b *testing.B, n int) *fixture {
	b.Helper()
	cfg, err := os.ReadFile("../testdata/quickstart/idsync.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var csv bytes.Buffer
	people := population.Generate(population.Options{N: n, Seed: 1, Today: time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)})
	if err := population.WriteCSV(&csv, people); err != nil {
		b.Fatal(err)
	}
	return newFixture(b, map[string]string{"idsync.yaml": string(cfg), "hr.csv": csv.String()})
}

// BenchmarkPlan reports rows/s for a first plan (every rule evaluated,
// every identity matched) and a steady-state plan (nothing changed).
func BenchmarkPlan(b *testing.B) {
	const n = 20000
	for _, steady := range []bool{false, true} {
		name := "initial"
		if steady {
			name = "steady"
		}
		b.Run(name, func(b *testing.B) {
			f := benchFixture(b, n)
			e := f.engine(nil)
			if steady {
				p, err := e.Plan(b.Context(), PlanOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Apply(b.Context(), p, ApplyOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Plan(b.Context(), PlanOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
