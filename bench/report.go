package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"
)

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func fmtErrs(r *Result) string {
	if r.Errors == 0 {
		return "0"
	}
	keys := make([]string, 0, len(r.ErrBy))
	for k := range r.ErrBy {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, r.ErrBy[k]))
	}
	return fmt.Sprintf("%d (%s)", r.Errors, strings.Join(parts, ", "))
}

func printReport(w io.Writer, o Options, h *harness, rep *Report) {
	fmt.Fprintf(w, "\n## authd bench — %s, %d CPUs (GOMAXPROCS %d), d=%v warm-up=%v runs=%d\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.GOMAXPROCS(0), o.Duration, o.Warmup, o.Runs)
	if len(rep.Results) > 0 {
		fmt.Fprintln(w, "| scenario | c | req/s | × hello | p50 | p90 | p99 | errors | CPU authd | CPU bench | CPU redis | CPU pg | CPU other | authd CPU/req | authd RSS (peak) | notes |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, r := range rep.Results {
			ratio := "–"
			if r.Ratio > 0 {
				ratio = fmt.Sprintf("%.3f", r.Ratio)
			}
			name := r.Scenario
			if o.Runs > 1 {
				name = fmt.Sprintf("%s #%d", name, r.Run)
			}
			server, perReq := fmt.Sprintf("%.2f", r.CPU.Server), "–"
			if r.CPU.ServerInBench {
				server = "(in bench)"
			} else if r.N > 0 {
				perReq = fmtDur(time.Duration(r.CPU.Server * r.Elapsed.Seconds() / float64(r.N) * float64(time.Second)))
			}
			mem := "–"
			if !r.CPU.ServerInBench && r.RSS > 0 {
				mem = fmt.Sprintf("%d MiB (%d)", r.RSS>>20, r.PeakRSS>>20)
			}
			fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s |\n",
				name, r.C, r.RPS, ratio, fmtDur(r.P50), fmtDur(r.P90), fmtDur(r.P99), fmtErrs(r),
				server, r.CPU.Bench, r.CPU.Redis, r.CPU.Postgres, r.CPU.Other, perReq, mem, r.Note)
		}
		fmt.Fprintln(w, "\nCPU columns are in cores (CPU seconds per second) over the measured window: the authd child")
		fmt.Fprintln(w, "(/proc/<pid>/stat), this load generator (getrusage), redis-server, every postgres process, and")
		fmt.Fprintln(w, "the rest of the machine (/proc/stat). \"authd CPU/req\" is authd's CPU time per successful iteration.")
		fmt.Fprintln(w, "authcode iterations are whole sign-ins (4 HTTP requests each). authd RSS: VmRSS at the end of the")
		fmt.Fprintln(w, "window (VmHWM, the peak since start, in parentheses).")
		for _, r := range rep.Results {
			if r.Perf != "" {
				fmt.Fprintf(w, "\n### perf: authd during %s c=%d\n\n```\n%s```\n", r.Scenario, r.C, r.Perf)
			}
		}
	}
	if rep.Scale != nil {
		printScale(w, rep.Scale)
	}
	if m := rep.Memory; m != nil {
		fmt.Fprintf(w, "\n### memory: %d refresh sessions loaded through the storage adapter in %v\n\n", m.Sessions, m.LoadTime.Round(time.Millisecond))
		fmt.Fprintln(w, "| figure | bytes |")
		fmt.Fprintln(w, "|---|---:|")
		fmt.Fprintf(w, "| Redis used_memory / session, steady state (family + access token) | %d |\n", m.UsedDeltaSteady/int64(max(1, m.Sessions)))
		fmt.Fprintf(w, "| Redis used_memory / session, within the code TTL (+ exchanged code) | %d |\n", m.UsedDeltaWithCode/int64(max(1, m.Sessions)))
		fmt.Fprintf(w, "| MEMORY USAGE family hash `{G}:f` (median of %d) | %d |\n", m.SampleN, m.FamilyMed)
		fmt.Fprintf(w, "| MEMORY USAGE access token `{G}:at` (median of %d) | %d |\n", m.SampleN, m.AccessMed)
		fmt.Fprintf(w, "| MEMORY USAGE exchanged code `{G}:c` (median of %d) | %d |\n", m.SampleN, m.CodeMed)
		fmt.Fprintf(w, "| real grants over HTTP (%d): `f` / `at` / `c` | %d / %d / %d |\n", m.RealN, m.RealFamily, m.RealAccess, m.RealCode)
		fmt.Fprintf(w, "| real grants: leftover pk/oi keys after the exchange (%s) | %d |\n", strings.TrimSpace(m.RealOtherKeys), m.RealOther)
		rows := max(1, m.GrantRows)
		fmt.Fprintf(w, "| Postgres grants: pg_total_relation_size / row (%d rows) | %d |\n", m.GrantRows, m.GrantTotal/rows)
		fmt.Fprintf(w, "| … heap / row, indexes / row | %d, %d |\n", m.GrantHeap/rows, m.GrantIdx/rows)
		fmt.Fprintf(w, "\nAt this size, 1M live refresh sessions need ≈ %.0f MiB of Redis and ≈ %.0f MiB of Postgres (grants).\n",
			float64(m.UsedDeltaSteady)/float64(max(1, m.Sessions))*1e6/(1<<20), float64(m.GrantTotal)/float64(rows)*1e6/(1<<20))
	}
}
