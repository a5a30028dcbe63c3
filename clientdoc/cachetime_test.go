package clientdoc

import (
	"net/http"
	"testing"
	"time"
)

// TestLifetime: Cache-Control (s-maxage before max-age, Age counted,
// no-store and no-cache the minimum), then Expires minus Date, else the
// default; always within the bounds.
func TestLifetime(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	l := Lifetimes{Min: time.Minute, Max: 24 * time.Hour, Default: 10 * time.Minute}
	date := now.Format(http.TimeFormat)
	for _, tc := range []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"none", http.Header{}, 10 * time.Minute},
		{"max-age", http.Header{"Cache-Control": {"public, max-age=3600"}}, time.Hour},
		{"max-age upper case, quoted", http.Header{"Cache-Control": {`Max-Age="600"`}}, 10 * time.Minute},
		{"s-maxage wins", http.Header{"Cache-Control": {"max-age=60, s-maxage=7200"}}, 2 * time.Hour},
		{"age counted", http.Header{"Cache-Control": {"max-age=3600"}, "Age": {"600"}}, 50 * time.Minute},
		{"below the minimum", http.Header{"Cache-Control": {"max-age=5"}}, time.Minute},
		{"above the maximum", http.Header{"Cache-Control": {"max-age=31536000"}}, 24 * time.Hour},
		{"no-store", http.Header{"Cache-Control": {"no-store, max-age=3600"}}, time.Minute},
		{"no-cache", http.Header{"Cache-Control": {"no-cache"}}, time.Minute},
		{"malformed max-age", http.Header{"Cache-Control": {"max-age=soon"}}, time.Minute},
		{"expires", http.Header{"Date": {date}, "Expires": {now.Add(2 * time.Hour).Format(http.TimeFormat)}}, 2 * time.Hour},
		{"expires without date", http.Header{"Expires": {now.Add(30 * time.Minute).Format(http.TimeFormat)}}, 30 * time.Minute},
		{"expires in the past", http.Header{"Date": {date}, "Expires": {now.Add(-time.Hour).Format(http.TimeFormat)}}, time.Minute},
		{"invalid expires", http.Header{"Expires": {"0"}}, time.Minute},
		{"max-age beats expires", http.Header{"Cache-Control": {"max-age=120"}, "Expires": {now.Add(5 * time.Hour).Format(http.TimeFormat)}}, 2 * time.Minute},
	} {
		if got := l.Lifetime(tc.h, now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
