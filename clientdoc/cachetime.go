package clientdoc

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Lifetimes bounds how long a fetched document is used before it is
// fetched again (the draft lets the authorization server bound what the
// HTTP caching headers say).
type Lifetimes struct {
	// Min is the shortest (also the lifetime of a document served with
	// no-store, no-cache or max-age=0: authd needs it for the token request
	// that follows the authorization); Max the longest; Default the
	// lifetime of a document without caching headers.
	Min, Max, Default time.Duration
}

// DefaultLifetimes: at least a minute, at most a day, ten minutes without
// caching headers.
var DefaultLifetimes = Lifetimes{Min: time.Minute, Max: 24 * time.Hour, Default: 10 * time.Minute}

// Lifetime is how long a response with header h, received at now, stays
// fresh (RFC 9111 §4.2.1: s-maxage, then max-age, then Expires minus Date;
// the Age header counts against it), within l's bounds.
func (l Lifetimes) Lifetime(h http.Header, now time.Time) time.Duration {
	d, ok := headerLifetime(h, now)
	if !ok {
		d = l.Default
	}
	return min(max(d, l.Min), l.Max)
}

// headerLifetime is the freshness lifetime the headers give (ok false when
// they give none).
func headerLifetime(h http.Header, now time.Time) (time.Duration, bool) {
	cc := cacheControl(h.Values("Cache-Control"))
	if _, ok := cc["no-store"]; ok {
		return 0, true
	}
	if _, ok := cc["no-cache"]; ok {
		return 0, true
	}
	age := time.Duration(0)
	if a, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && a > 0 {
		age = time.Duration(a) * time.Second
	}
	for _, k := range []string{"s-maxage", "max-age"} {
		if v, ok := cc[k]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return 0, true // malformed: stale (RFC 9111 §4.2.1)
			}
			return max(time.Duration(min(n, 1<<31))*time.Second-age, 0), true
		}
	}
	if e := h.Get("Expires"); e != "" {
		exp, err := http.ParseTime(e)
		if err != nil {
			return 0, true // an invalid Expires means already expired
		}
		date := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			date = d
		}
		return max(exp.Sub(date)-age, 0), true
	}
	return 0, false
}

// cacheControl parses Cache-Control directives (lowercased names, unquoted
// values).
func cacheControl(values []string) map[string]string {
	out := map[string]string{}
	for _, v := range values {
		for _, d := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			if name = strings.ToLower(strings.TrimSpace(name)); name == "" {
				continue
			}
			if _, seen := out[name]; !seen {
				out[name] = strings.Trim(strings.TrimSpace(val), `"`)
			}
		}
	}
	return out
}
