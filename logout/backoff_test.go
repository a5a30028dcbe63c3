package logout

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := Backoff{Base: 10 * time.Second, Max: 15 * time.Minute, Attempts: 10}
	want := []time.Duration{10, 20, 40, 80, 160, 320, 640, 900, 900}
	var total time.Duration
	for n, w := range want {
		w *= time.Second
		for range 20 {
			if d := b.Wait(n); d < w*8/10 || d > w*12/10 {
				t.Fatalf("wait after attempt %d: %v, want %v ±20%%", n+1, d, w)
			}
		}
		total += w
	}
	if total < 50*time.Minute || total > 52*time.Minute {
		t.Fatalf("the retries span %v, want about 50 minutes", total)
	}
	if s := b.span(30 * time.Second); s < total*12/10+time.Hour {
		t.Fatalf("a job's TTL %v is shorter than its retries at their longest", s)
	}
}
