package main

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC: serve's GC default applies only when GOGC is not set.
func TestTuneGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })

	t.Setenv("GOGC", "")
	if got := tuneGC(); got != defaultGCPercent {
		t.Errorf("GOGC unset: tuneGC = %d, want %d", got, defaultGCPercent)
	}
	if now := debug.SetGCPercent(defaultGCPercent); now != defaultGCPercent {
		t.Errorf("GOGC unset: runtime GC percent %d, want %d", now, defaultGCPercent)
	}

	// The runtime read GOGC at start; an operator's value is left alone.
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	if got := tuneGC(); got != 150 {
		t.Errorf("GOGC=150: tuneGC = %d, want 150", got)
	}
	if now := debug.SetGCPercent(150); now != 150 {
		t.Errorf("GOGC=150: runtime GC percent %d, want 150", now)
	}
}
