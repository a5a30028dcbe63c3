package ratelimit

import (
	"strings"
	"testing"
	"time"
)

// Source: IPv4 as is, IPv6 by its /64, mapped IPv4 as IPv4. No Redis.
func TestSource(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":                "192.0.2.7",
		"::ffff:192.0.2.7":         "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":     "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":     "2001:db8:1:2::/64",
		"2001:db8:1:3::1":          "2001:db8:1:3::/64",
		"fe80::1%eth0":             "fe80::/64",
		"::1":                      "::/64",
		"not an address":           "not an address",
		"2001:db8:1:2:3:4:5:6:bad": "2001:db8:1:2:3:4:5:6:bad",
	} {
		if got := Source(in); got != want {
			t.Errorf("Source(%q) = %q, want %q", in, got, want)
		}
	}
}

// The identities of an attempt: a pair (account and source) and the source
// are blocked, the account only slows; without an account, the source
// only. Keys are hashed and differ per kind, account and source.
func TestNewAttempt(t *testing.T) {
	cfg := Config{Failures: 3, IPFailures: 7}.withDefaults()
	a := newAttempt("P:", clientKinds, "app", "192.0.2.7", cfg)
	if len(a.keys()) != 2 || a.keys()[0] != a.pair || a.pair.limit != 3 || a.source.limit != 7 || a.account == "" {
		t.Fatalf("attempt with an account: %+v", a)
	}
	for _, k := range []string{a.pair.base, a.source.base, a.account} {
		if !strings.HasPrefix(k, "P:rl:{") || !strings.HasSuffix(k, "}:") || strings.Contains(k, "app") || strings.Contains(k, "192.0.2") {
			t.Errorf("key %q: want P:rl:{kind:hash}: naming neither the client nor the address", k)
		}
	}
	other := newAttempt("P:", clientKinds, "app", "192.0.2.8", cfg)
	if other.pair == a.pair || other.source == a.source || other.account != a.account {
		t.Errorf("another source: pair and source keys must differ, the account key not: %+v %+v", a, other)
	}
	if s := newAttempt("P:", signInKinds, "app", "192.0.2.7", cfg); s.pair == a.pair || s.account == a.account || s.source == a.source {
		t.Errorf("sign-in and client keys must not collide")
	}
	if n := newAttempt("P:", clientKinds, "", "192.0.2.7", cfg); len(n.keys()) != 1 || n.keys()[0] != a.source || n.account != "" {
		t.Errorf("attempt without an account: %+v", n)
	}
}

// decide: the longest block wins and is no busy; busy only without a block;
// the account-wide slowdown spares a pair that succeeded recently and an
// attempt without an account.
func TestDecide(t *testing.T) {
	cfg := Config{Failures: 10, MaxDelay: 3 * time.Second}.withDefaults()
	s, m := time.Second, time.Minute
	for _, tc := range []struct {
		name    string
		replies []reply
		n       int64
		want    verdict
	}{
		{"clear", []reply{{}, {}}, 0, verdict{}},
		{"pair blocked", []reply{{wait: m}, {}}, 0, verdict{block: m}},
		{"source blocked, pair busy", []reply{{wait: -1}, {wait: s}}, 0, verdict{block: s}},
		{"longest block", []reply{{wait: m}, {wait: s}}, 0, verdict{block: m}},
		{"busy", []reply{{}, {wait: -1}}, 0, verdict{busy: true, delay: 0}},
		{"account slowed", []reply{{}, {}}, 20, verdict{delay: 200 * time.Millisecond}},
		{"slowed but the pair succeeded recently", []reply{{good: true}, {}}, 50, verdict{}},
		{"no account: never slowed", []reply{{}}, 1000, verdict{}},
		{"blocked: no delay", []reply{{wait: s}, {}}, 1000, verdict{block: s}},
	} {
		if got := decide(tc.replies, tc.n, cfg); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// slowdown: none below the limit, then 100 ms doubling per further limit's
// worth of failures, bounded by MaxDelay; off when MaxDelay is 0.
func TestSlowdown(t *testing.T) {
	cfg := Config{Failures: 10, MaxDelay: 3 * time.Second}
	for n, want := range map[int64]time.Duration{
		0: 0, 9: 0, 10: 100 * time.Millisecond, 19: 100 * time.Millisecond, 20: 200 * time.Millisecond,
		40: 800 * time.Millisecond, 60: 3 * time.Second, 1 << 40: 3 * time.Second,
	} {
		if got := slowdown(n, cfg); got != want {
			t.Errorf("slowdown(%d) = %v, want %v", n, got, want)
		}
	}
	if got := slowdown(1000, Config{Failures: 10}); got != 0 {
		t.Errorf("MaxDelay 0: %v, want none", got)
	}
}
