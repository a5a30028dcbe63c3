package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// errExhausted: a scenario's pre-minted pool ran out; the measured window
// ends there.
var errExhausted = errors.New("token pool exhausted")

// op performs one iteration for worker w; nil is a success.
type op func(w int) error

// Result is one measured run.
type Result struct {
	Scenario string
	C, Run   int
	N        int64         // successful iterations in the window
	Elapsed  time.Duration // the measured window
	RPS      float64       // N / Elapsed
	Ratio    float64       // RPS / hello's RPS at the same C (0: no hello)
	P50      time.Duration
	P90      time.Duration
	P99      time.Duration
	Errors   int64
	ErrBy    map[string]int64
	CPU      cpuDelta
	Note     string
	Perf     string // perf report, when recorded
	// authd's resident memory at the end of the window and its peak so far
	// (VmRSS, VmHWM), in bytes.
	RSS, PeakRSS int64
}

func perfWanted(list, name string) bool {
	for _, s := range splitComma(list) {
		if s == name {
			return true
		}
	}
	return false
}

// procMem returns VmRSS and VmHWM of pid, in bytes.
func procMem(pid int) (rss, hwm int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			hwm = n << 10
		}
	}
	return rss, hwm
}

type sample struct {
	end time.Duration // since the window's start
	lat time.Duration
}

type workerStats struct {
	samples []sample
	errs    map[string][]time.Duration // class -> end offsets
}

// runScenario prepares a scenario for c workers and measures it.
func runScenario(ctx context.Context, h *harness, o Options, name string, c int) (*Result, error) {
	if err := h.alive(); err != nil {
		return nil, err
	}
	sc, err := prepare(ctx, h, o, name, c)
	if err != nil {
		return nil, err
	}
	res := &Result{Scenario: name, C: c, Note: sc.note, ErrBy: map[string]int64{}}

	var stopped atomic.Bool
	exhausted := make(chan struct{})
	var exhaustOnce sync.Once
	stats := make([]*workerStats, c)
	start := time.Now()
	mStart := start.Add(o.Warmup)
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		st := &workerStats{samples: make([]sample, 0, 4096), errs: map[string][]time.Duration{}}
		stats[w] = st
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for !stopped.Load() {
				t0 := time.Now()
				err := sc.op(w)
				t1 := time.Now()
				if errors.Is(err, errExhausted) {
					exhaustOnce.Do(func() { close(exhausted) })
					return
				}
				// Everything that completes inside the window counts
				// (also iterations begun in the warm-up: a sign-in at
				// c=64 can take longer than the window).
				if t1.Before(mStart) {
					continue
				}
				if err != nil {
					cl := errClass(err)
					st.errs[cl] = append(st.errs[cl], t1.Sub(mStart))
					continue
				}
				st.samples = append(st.samples, sample{end: t1.Sub(mStart), lat: t1.Sub(t0)})
			}
		}(w)
	}

	var cpu0, cpu1 cpuSnap
	var perf *perfRecorder
	var end time.Time
	select {
	case <-time.After(time.Until(mStart)):
	case <-exhausted:
	case <-ctx.Done():
	}
	cpu0 = snapCPU(h)
	if perfWanted(o.Perf, name) {
		perf = startPerf(h, o, fmt.Sprintf("%s-c%d", name, c))
	}
	select {
	case <-time.After(o.Duration):
	case <-exhausted:
		res.Note = strings.TrimSpace(res.Note + " pool ran out before the end of the window")
	case <-ctx.Done():
	}
	end = time.Now()
	cpu1 = snapCPU(h)
	res.RSS, res.PeakRSS = procMem(h.pid())
	stopped.Store(true)
	if perf != nil {
		res.Perf = perf.stop()
		res.Note = strings.TrimSpace(res.Note + " (perf attached)")
	}
	wg.Wait()
	if sc.cleanup != nil {
		sc.cleanup()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := h.alive(); err != nil {
		return nil, err
	}

	window := end.Sub(mStart)
	if window <= 0 {
		return nil, fmt.Errorf("empty measurement window (the pool ran out during warm-up)")
	}
	var lats []time.Duration
	for _, st := range stats {
		for _, s := range st.samples {
			if s.end <= window {
				lats = append(lats, s.lat)
			}
		}
		for cl, ends := range st.errs {
			for _, e := range ends {
				if e <= window {
					res.ErrBy[cl]++
					res.Errors++
				}
			}
		}
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	res.N = int64(len(lats))
	res.Elapsed = window
	res.RPS = float64(res.N) / window.Seconds()
	res.P50, res.P90, res.P99 = pct(lats, 0.50), pct(lats, 0.90), pct(lats, 0.99)
	res.CPU = cpu1.sub(cpu0, name == "hello")
	return res, nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return sorted[i]
}

// ---------------------------------------------------------------------------
// CPU accounting

const clkTck = 100 // USER_HZ on Linux

type cpuSnap struct {
	at                time.Time
	server, self      float64 // seconds of CPU
	redis             float64
	pgByPID           map[int]float64 // postgres backends come and go
	machineBusy       float64
	serverOK, redisOK bool
}

// cpuDelta is the CPU used during a window, in cores (CPU seconds per
// second of wall time).
type cpuDelta struct {
	Server, Bench, Redis, Postgres, Other, Machine float64
	// ServerInBench: the server runs inside this process (hello).
	ServerInBench bool
}

func procCPU(pid int) (float64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clkTck, true
}

func procComm(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// pidsByComm returns the pids whose command name starts with prefix.
func pidsByComm(prefix string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if strings.HasPrefix(procComm(e.Name()), prefix) {
			out = append(out, n)
		}
	}
	return out
}

func machineBusy() float64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	fs := strings.Fields(sc.Text())
	var busy float64
	for i, v := range fs[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		busy += n
	}
	return busy / clkTck
}

func snapCPU(h *harness) cpuSnap {
	s := cpuSnap{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	if h.cmd != nil && h.cmd.Process != nil {
		s.server, s.serverOK = procCPU(h.pid())
	}
	for _, p := range h.redisPIDs() {
		if v, ok := procCPU(p); ok {
			s.redis += v
			s.redisOK = true
		}
	}
	s.pgByPID = map[int]float64{}
	for _, p := range pidsByComm("postgres") {
		if v, ok := procCPU(p); ok {
			s.pgByPID[p] = v
		}
	}
	s.machineBusy = machineBusy()
	return s
}

func (b cpuSnap) sub(a cpuSnap, serverInBench bool) cpuDelta {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return cpuDelta{}
	}
	d := cpuDelta{
		Server: (b.server - a.server) / wall, Bench: (b.self - a.self) / wall,
		Redis: (b.redis - a.redis) / wall, Postgres: pgDelta(a.pgByPID, b.pgByPID) / wall,
		Machine: (b.machineBusy - a.machineBusy) / wall, ServerInBench: serverInBench,
	}
	d.Other = max(0, d.Machine-d.Server-d.Bench-d.Redis-d.Postgres)
	return d
}

// pgDelta is the CPU the postgres processes used between two snapshots:
// the growth of those alive at both, plus all of those born in between (a
// backend that exited in between is lost; its time lands in "other").
func pgDelta(a, b map[int]float64) float64 {
	var d float64
	for pid, v := range b {
		if old, ok := a[pid]; ok && v >= old {
			d += v - old
		} else if !ok {
			d += v
		}
	}
	return d
}

var (
	redisPIDOnce sync.Once
	redisPIDs    []int
)

// redisPIDs finds the redis-server process (this machine's services).
func (h *harness) redisPIDs() []int {
	redisPIDOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		info, err := h.rdb.Info(ctx, "server").Result()
		if err == nil {
			for _, line := range strings.Split(info, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
					if n, err := strconv.Atoi(v); err == nil {
						redisPIDs = []int{n}
					}
				}
			}
		}
	})
	return redisPIDs
}

// ---------------------------------------------------------------------------
// perf

type perfRecorder struct {
	cmd  *exec.Cmd
	file string
	o    Options
}

func startPerf(h *harness, o Options, label string) *perfRecorder {
	dir := o.PerfDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "authd-bench-perf")
	}
	_ = os.MkdirAll(dir, 0o755)
	file := filepath.Join(dir, "authd-"+label+".perf.data")
	cmd := exec.Command("perf", "record", "-F", "999", "-g", "-p", strconv.Itoa(h.pid()), "-o", file)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		o.Logf("perf: %v", err)
		return nil
	}
	return &perfRecorder{cmd: cmd, file: file, o: o}
}

// stop ends the recording and returns flat (self) and inclusive (children)
// profiles of the hottest symbols.
func (p *perfRecorder) stop() string {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	_ = p.cmd.Wait()
	var sb strings.Builder
	for _, mode := range []string{"--no-children", "--children"} {
		limit := "1"
		if mode == "--children" {
			limit = "3"
		}
		out, err := exec.Command("perf", "report", "-i", p.file, "--stdio", mode, "-g", "none",
			"--sort", "symbol", "--percent-limit", limit).Output()
		if err != nil {
			fmt.Fprintf(&sb, "perf report %s: %v\n", mode, err)
			continue
		}
		fmt.Fprintf(&sb, "perf report %s (top symbols, ≥%s%%):\n", mode, limit)
		n := 0
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			sb.WriteString(strings.TrimRight(line, " -") + "\n")
			if n++; n >= 45 {
				break
			}
		}
	}
	p.o.Logf("perf data kept in %s", p.file)
	return sb.String()
}
