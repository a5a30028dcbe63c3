package main

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Finding 5 of issue 15: a User-Agent that is not valid UTF-8 (or whose
// 512-byte cut splits a character) reached Postgres; its row made the whole
// TouchGrants batch fail, the batch went back to Redis, and every later
// flush failed with it. Now every stored request string is cleaned, and the
// other grants' usage keeps being written.
func TestPoisonedUserAgentLeavesUsageFlushWorking(t *testing.T) {
	e := newDevicesE2E(t, func(c *Config) { c.UsageFlushInterval = time.Hour })
	bad := "Mozilla/5.0 \xff\xfe (bad)"
	split := strings.Repeat("a", 511) + "é and more" // the 512-byte cut lands inside é
	tokBad := e.deviceLogin(bad)                     // grant birth with the bad User-Agent
	tokSplit := e.deviceLogin(split)
	tokOK := e.deviceLogin(devUAs[0].UA)
	okGrant := e.grantOfToken(t, tokOK.AccessToken)
	before, err := e.srv.DB.GetGrant(e.ctx, okGrant)
	if err != nil {
		t.Fatal(err)
	}

	time.Sleep(5 * time.Millisecond)
	rBad := e.refreshAs(t, tokBad.RefreshToken, bad)
	e.refreshAs(t, tokSplit.RefreshToken, split)
	rOK := e.refreshAs(t, tokOK.RefreshToken, devUAs[1].UA)
	if _, err := e.srv.App.FlushUsage(e.ctx); err != nil {
		t.Errorf("flush with a bad User-Agent pending: %v", err)
	}
	mid, _ := e.srv.DB.GetGrant(e.ctx, okGrant)
	if !mid.LastUsedAt.After(before.LastUsedAt) || mid.UserAgent != devUAs[0].UA {
		t.Fatalf("another grant's usage was not written: %+v (before %+v)", mid, before)
	}

	// ...and the flush keeps working afterwards.
	time.Sleep(5 * time.Millisecond)
	e.refreshAs(t, rBad.str("refresh_token"), bad)
	e.refreshAs(t, rOK.str("refresh_token"), devUAs[2].UA)
	if _, err := e.srv.App.FlushUsage(e.ctx); err != nil {
		t.Errorf("second flush: %v", err)
	}
	after, _ := e.srv.DB.GetGrant(e.ctx, okGrant)
	if !after.LastUsedAt.After(mid.LastUsedAt) || after.UserAgent != devUAs[0].UA {
		t.Errorf("second flush did not move the grant: %+v (before %+v)", after, mid)
	}
	gs, err := e.srv.DB.ListGrants(e.ctx, e.sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if !utf8.ValidString(g.UserAgent) || len(g.UserAgent) > 512 || strings.ContainsAny(g.UserAgent, "\x00\r\n") {
			t.Errorf("grant %s stores User-Agent %q", g.ID, g.UserAgent)
		}
	}
}
