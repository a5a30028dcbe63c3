package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options configures a bench run.
type Options struct {
	Scenarios []string
	Conc      []int
	Duration  time.Duration
	Warmup    time.Duration
	Runs      int
	Quick     bool

	AuthdBin    string // prebuilt authd; "" builds one
	RedisURL    string
	DatabaseURL string

	// MemorySessions is how many refresh sessions the memory scenario loads.
	MemorySessions int
	// ScaleGrants is the size of the scale scenario's grants table;
	// ScaleRequests how many of each admin API request it measures.
	ScaleGrants, ScaleRequests int
	// ScaleJanitorRuns repeats each janitor measurement.
	ScaleJanitorRuns int
	// RefreshScope is the scope of the refresh chains ("openid" makes every
	// refresh sign an ID token).
	RefreshScope string
	// Users is how many users the authcode scenario signs in as.
	Users int
	// Perf, a comma-separated list of scenarios, records the authd process with
	// `perf record -g` during that scenario's measured windows and prints
	// the hottest symbols.
	Perf    string
	PerfDir string
	Keep    bool // keep the schema and key prefix afterwards
	// AuthdEnv is extra environment for the authd child (KEY=VALUE), e.g.
	// GOGC=400 to try runtime settings without rebuilding.
	AuthdEnv []string

	Out  *os.File
	Logf func(format string, args ...any)
}

var allScenarios = []string{"hello", "cc", "cc-jwt", "introspect", "refresh", "refresh-es256", "refresh-noid", "refresh-jwt", "revoke", "jwks", "authcode"}

func main() {
	o := Options{Out: os.Stdout}
	scen := flag.String("scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios: "+strings.Join(allScenarios, ",")+",memory,scale (hello is always measured first when a ratio is wanted)")
	conc := flag.String("c", "16,64", "comma-separated concurrency levels")
	flag.DurationVar(&o.Duration, "d", 10*time.Second, "measured duration of each run")
	flag.DurationVar(&o.Warmup, "warmup", 2*time.Second, "warm-up before each measured run")
	flag.IntVar(&o.Runs, "runs", 1, "runs per scenario and concurrency")
	flag.BoolVar(&o.Quick, "quick", false, "1s runs, 100ms warm-up, small token pools (smoke test)")
	flag.StringVar(&o.AuthdBin, "authd", "", "authd binary to run (default: go build ./cmd/authd into a temporary directory)")
	flag.StringVar(&o.RedisURL, "redis-url", envOr("AUTHD_REDIS_URL", "redis://127.0.0.1:6390/0"), "Redis URL")
	flag.StringVar(&o.DatabaseURL, "database-url", envOr("AUTHD_DATABASE_URL", "postgres://postgres@127.0.0.1:5440/authd?sslmode=disable"), "Postgres URL")
	flag.IntVar(&o.MemorySessions, "memory-sessions", 100000, "sessions the memory scenario loads")
	flag.IntVar(&o.ScaleGrants, "scale-grants", 1000000, "rows of the scale scenario's grants table")
	flag.IntVar(&o.ScaleRequests, "scale-requests", 500, "requests of each kind the scale scenario measures")
	flag.IntVar(&o.ScaleJanitorRuns, "scale-janitor-runs", 1, "times the scale scenario repeats each janitor measurement")
	flag.StringVar(&o.RefreshScope, "refresh-scope", "openid offline_access", "scope of the refresh chains")
	flag.IntVar(&o.Users, "users", 8, "users for the authcode scenario")
	flag.StringVar(&o.Perf, "perf", "", "comma-separated scenarios during which to record authd with `perf record -g`")
	flag.StringVar(&o.PerfDir, "perf-dir", "", "where perf data goes (default: a temporary directory)")
	flag.BoolVar(&o.Keep, "keep", false, "keep the Postgres schema and Redis keys afterwards")
	cpuProfile := flag.String("cpuprofile", "", "write this load generator's own CPU profile (the whole run) to this file")
	authdEnv := flag.String("authd-env", "", "comma-separated KEY=VALUE pairs added to authd serve's environment (e.g. GOGC=400)")
	flag.Parse()
	o.AuthdEnv = splitComma(*authdEnv)
	o.Scenarios = splitComma(*scen)
	for _, s := range splitComma(*conc) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: bad -c value %q\n", s)
			os.Exit(2)
		}
		o.Conc = append(o.Conc, n)
	}
	o.Logf = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The load generator's own garbage competes with authd for the two
	// cores; collect it less often (hello, the ceiling, gains as much).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	if _, err := Run(ctx, o); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Report is what Run measured.
type Report struct {
	Results []*Result
	Memory  *MemoryResult
	Scale   *ScaleResult
}

// Run executes the scenarios and prints the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Quick {
		if o.Duration <= 0 || o.Duration > time.Second {
			o.Duration = time.Second
		}
		if o.Warmup <= 0 || o.Warmup > 100*time.Millisecond {
			o.Warmup = 100 * time.Millisecond
		}
		if o.MemorySessions > 2000 {
			o.MemorySessions = 2000
		}
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Runs < 1 {
		o.Runs = 1
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	known := map[string]bool{"memory": true, "scale": true}
	for _, s := range allScenarios {
		known[s] = true
	}
	for _, s := range o.Scenarios {
		if !known[s] {
			return nil, fmt.Errorf("unknown scenario %q", s)
		}
	}
	h, err := startHarness(ctx, o)
	if err != nil {
		return nil, err
	}
	defer h.Close()

	rep := &Report{}
	hello := map[int]float64{}
	for _, name := range o.Scenarios {
		if name == "memory" {
			m, err := runMemory(ctx, h, o)
			if err != nil {
				return rep, fmt.Errorf("memory: %w", err)
			}
			rep.Memory = m
			continue
		}
		if name == "scale" {
			s, err := runScale(ctx, h, o)
			rep.Scale = s
			if err != nil {
				return rep, fmt.Errorf("scale: %w", err)
			}
			continue
		}
		for _, c := range o.Conc {
			for run := 1; run <= o.Runs; run++ {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				r, err := runScenario(ctx, h, o, name, c)
				if err != nil {
					return rep, fmt.Errorf("%s c=%d: %w", name, c, err)
				}
				r.Run = run
				if name == "hello" && r.RPS > hello[c] {
					hello[c] = r.RPS
				}
				rep.Results = append(rep.Results, r)
				o.Logf("%-10s c=%-3d %8.0f req/s  p50 %-8s p99 %-8s errors %d", name, c, r.RPS, fmtDur(r.P50), fmtDur(r.P99), r.Errors)
			}
		}
	}
	for _, r := range rep.Results {
		if hv := hello[r.C]; hv > 0 {
			r.Ratio = r.RPS / hv
		}
	}
	printReport(o.Out, o, h, rep)
	return rep, nil
}
