package pipeline

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync/connectors/scim/scimtest"
)

// BenchmarkSCIMApply measures apply throughput against a loopback SCIM
// server, next to the server's own ceiling: the same requests sent by a
// minimal HTTP loop with the same concurrency. Run it with -benchtime=1x;
// each run is 10,000 requests.
//
//	go test ./pipeline -run '^$' -bench SCIMApply -benchtime 1x
func BenchmarkSCIMApply(b *testing.B) {
	const n = 10000
	type variant struct {
		server string
		conc   int
		bulk   bool
	}
	var variants []variant
	for _, server := range []string{"strict", "lenient"} {
		for _, conc := range []int{1, 8, 32} {
			variants = append(variants, variant{server, conc, false})
		}
	}
	// scimmy offers Bulk; the ceiling stays the per-op raw loop.
	variants = append(variants, variant{"lenient", 8, true})
	for _, v := range variants {
		name := fmt.Sprintf("%s/c=%d", v.server, v.conc)
		if v.bulk {
			name = fmt.Sprintf("%s-bulk/c=%d", v.server, v.conc)
		}
		b.Run(name, func(b *testing.B) {
			server, conc := v.server, v.conc
			{
				for b.Loop() {
					s := scimServers[server](b)
					raw := rawLoop(b, s, n, conc, "raw")
					s = scimServers[server](b) // a fresh, empty server for idsync
					creates, updates := engineRun(b, s, n, conc, v.bulk)
					b.ReportMetric(raw[0], "raw-creates/s")
					b.ReportMetric(creates, "idsync-creates/s")
					b.ReportMetric(raw[1], "raw-updates/s")
					b.ReportMetric(updates, "idsync-updates/s")
					b.ReportMetric(creates/raw[0], "creates-ratio")
					b.ReportMetric(updates/raw[1], "updates-ratio")
				}
			}
		})
	}
}

// engineRun applies n creates, then n one-attribute updates, through the
// engine, and returns ops/s for each.
func engineRun(b *testing.B, s *scimtest.Server, n, conc int, bulk bool) (creates, updates float64) {
	var day1, day2 strings.Builder
	day1.WriteString("id,title\n")
	day2.WriteString("id,title\n")
	for i := range n {
		fmt.Fprintf(&day1, "U%06d,Engineer\n", i)
		fmt.Fprintf(&day2, "U%06d,Senior Engineer\n", i)
	}
	cfg := fmt.Sprintf(`state: state
sources:
  hr: {type: csv, path: "${env:HR:-day1.csv}", key: id, schema: {id: string, title: string}}
targets:
  app:
    type: scim
    %s
    concurrency: %d
    bulk: %v
    rateLimit: 1000000
    source: hr
    attributes:
      userName: user.id
      title: user.title
`, s.Connection(""), conc, bulk)
	f := newFixture(b, map[string]string{"idsync.yaml": cfg, "day1.csv": day1.String(), "day2.csv": day2.String()})
	timed := func(env map[string]string) float64 {
		e := f.engine(env)
		p, err := e.Plan(b.Context(), PlanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		rep, err := e.Apply(b.Context(), p, ApplyOptions{})
		if err != nil || rep.Failed() != 0 {
			b.Fatalf("apply: %v, %d failed", err, rep.Failed())
		}
		return float64(n) / time.Since(start).Seconds()
	}
	return timed(nil), timed(map[string]string{"HR": "day2.csv"})
}

// rawLoop is the ceiling: conc goroutines sending the same POSTs, then the
// same PATCHes, over one keep-alive client, doing nothing else.
func rawLoop(b *testing.B, s *scimtest.Server, n, conc int, prefix string) [2]float64 {
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
		MaxIdleConnsPerHost: conc, ForceAttemptHTTP2: true}}
	send := func(method, url string, body any) map[string]any {
		payload, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, url, bytes.NewReader(payload))
		req.Header.Set("Authorization", "Bearer "+scimtest.Token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return nil
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			b.Errorf("%s %s: %d %s", method, url, resp.StatusCode, raw)
		}
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return out
	}
	ids := make([]string, n)
	run := func(work func(i int)) float64 {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range conc {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					work(i)
				}
			})
		}
		wg.Wait()
		return float64(n) / time.Since(start).Seconds()
	}
	creates := run(func(i int) {
		out := send(http.MethodPost, s.URL+"/Users", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": fmt.Sprintf("%s%06d", prefix, i),
			"title": "Engineer", "active": true})
		ids[i], _ = out["id"].(string)
	})
	updates := run(func(i int) {
		send(http.MethodPatch, s.URL+"/Users/"+ids[i], map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "path": "title", "value": "Senior Engineer"}}})
	})
	return [2]float64{creates, updates}
}
