package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/storage/storagetest"
)

// smokeScenarios are the scenarios BenchmarkSmoke runs: every load scenario
// but refresh-jwt (refresh-noid with JWT access tokens; cc-jwt already
// covers signing JWT access tokens, for 0.6 s).
func smokeScenarios() []string {
	var out []string
	for _, s := range allScenarios {
		if s != "refresh-jwt" {
			out = append(out, s)
		}
	}
	return out
}

// BenchmarkSmoke runs every load scenario but refresh-jwt for half a second at concurrency 4
// against a freshly built authd (the `make test` benchmark pass runs it
// once, in about 10-15 s) and fails on any error response, so the load
// generator never rots. The memory and scale scenarios are left out (`go run
// ./bench -scenarios memory`, `-scenarios scale`).
func BenchmarkSmoke(b *testing.B) {
	if testing.Short() {
		b.Skip("smoke load test skipped in -short mode")
	}
	storagetest.Redis(b)  // skips (or fails in CI) when the services are down
	storagetest.Schema(b) // likewise for Postgres
	var out strings.Builder
	o := Options{
		Scenarios: smokeScenarios(), Conc: []int{4}, Runs: 1, Quick: true,
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
	for _, s := range smokeScenarios() {
		if !seen[s] {
			b.Errorf("scenario %s did not run", s)
		}
	}
}
