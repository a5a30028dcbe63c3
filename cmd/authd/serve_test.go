package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestTuneGC: serve's GC defaults apply only when the operator set neither
// GOGC nor GOMEMLIMIT.
func TestTuneGC(t *testing.T) {
	origPct, origLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(origPct); debug.SetMemoryLimit(origLimit) })

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	pct, limit := tuneGC()
	if pct != defaultGCPercent || limit != defaultMemLimit() {
		t.Errorf("nothing set: tuneGC = %d, %d; want %d, %d", pct, limit, defaultGCPercent, defaultMemLimit())
	}
	if now := debug.SetGCPercent(pct); now != defaultGCPercent {
		t.Errorf("runtime GC percent %d, want %d", now, defaultGCPercent)
	}
	if now := debug.SetMemoryLimit(-1); now != defaultMemLimit() {
		t.Errorf("runtime memory limit %d, want %d", now, defaultMemLimit())
	}
	if l := defaultMemLimit(); l < 200<<20 {
		t.Errorf("default memory limit %d MiB leaves no room for password checks", l>>20)
	}

	// The runtime read GOGC / GOMEMLIMIT at start; the operator's values
	// are left alone.
	for _, env := range [][2]string{{"GOGC", "150"}, {"GOMEMLIMIT", "1GiB"}} {
		t.Setenv("GOGC", "")
		t.Setenv("GOMEMLIMIT", "")
		t.Setenv(env[0], env[1])
		debug.SetGCPercent(150)
		debug.SetMemoryLimit(1 << 30)
		pct, limit := tuneGC()
		if pct != 150 || limit != 1<<30 {
			t.Errorf("%s=%s: tuneGC = %d, %d; want the runtime's 150, %d", env[0], env[1], pct, limit, 1<<30)
		}
		if now := debug.SetGCPercent(150); now != 150 {
			t.Errorf("%s=%s: runtime GC percent %d, want 150", env[0], env[1], now)
		}
	}
}
