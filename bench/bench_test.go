package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/storage/storagetest"
)

// BenchmarkSmoke runs every load scenario for half a second at concurrency 4
// against a freshly built authd (the `make test` benchmark pass runs it
// once, in about 10-15 s) and fails on any error response, so the load
// generator never rots. The memory scenario is left out (`go run ./bench
// -scenarios memory`).
func BenchmarkSmoke(b *testing.B) {
	if testing.Short() {
		b.Skip("smoke load test skipped in -short mode")
	}
	storagetest.Redis(b)  // skips (or fails in CI) when the services are down
	storagetest.Schema(b) // likewise for Postgres
	var out strings.Builder
	o := Options{
		Scenarios: allScenarios, Conc: []int{4}, Runs: 1, Quick: true,
		Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond,
		RedisURL: storagetest.RedisURL(), DatabaseURL: storagetest.PostgresURL(),
		RefreshScope: "openid offline_access", Users: 2,
		Logf: b.Logf,
	}
	f, err := os.CreateTemp(b.TempDir(), "report-*.md")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	o.Out = f
	rep, err := Run(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	report, _ := os.ReadFile(f.Name())
	out.Write(report)
	b.Log(out.String())
	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.Scenario] = true
		if r.N == 0 || r.Errors > 0 {
			b.Errorf("%s c=%d: %d ok, %d errors %v", r.Scenario, r.C, r.N, r.Errors, r.ErrBy)
		}
		b.ReportMetric(r.RPS, r.Scenario+"-req/s")
	}
	for _, s := range allScenarios {
		if !seen[s] {
			b.Errorf("scenario %s did not run", s)
		}
	}
}
