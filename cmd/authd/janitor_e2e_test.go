package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/grants"
	"github.com/authd/authd/storage"
	"github.com/jackc/pgx/v5"
)

// refreshAs refreshes with the devices client, sending User-Agent ua.
func (e *e2e) refreshAs(t *testing.T, rt, ua string) apiResp {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {devClientID}}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", ua)
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %s", resp.StatusCode, buf.String())
	}
	out := apiResp{Status: resp.StatusCode, Raw: buf.String()}
	_ = json.Unmarshal(buf.Bytes(), &out.JSON)
	return out
}

func TestRefreshUsageFlushedInBatches(t *testing.T) {
	e := newDevicesE2E(t, func(c *Config) { c.UsageFlushInterval = time.Hour })
	tok := e.deviceLogin(devUAs[0].UA)
	grant := e.grantOfToken(t, tok.AccessToken)
	before, err := e.srv.DB.GetGrant(e.ctx, grant)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	r := e.refreshAs(t, tok.RefreshToken, devUAs[1].UA)

	// The refresh did not write Postgres.
	mid, _ := e.srv.DB.GetGrant(e.ctx, grant)
	if !mid.LastUsedAt.Equal(before.LastUsedAt) || mid.UserAgent != devUAs[0].UA {
		t.Fatalf("the refresh path wrote Postgres: %+v", mid)
	}
	n, err := e.srv.App.FlushUsage(e.ctx)
	if err != nil || n != 1 {
		t.Fatalf("flush: %d, %v; want 1 usage", n, err)
	}
	after, _ := e.srv.DB.GetGrant(e.ctx, grant)
	// Last use moves; the device (the browser that authorized the grant)
	// stays, whatever agent refreshes.
	if !after.LastUsedAt.After(before.LastUsedAt) || after.UserAgent != devUAs[0].UA || after.LastIP != "127.0.0.1" ||
		after.ExpiresAt.Before(before.ExpiresAt) {
		t.Errorf("after flush: %+v (before %+v)", after, before)
	}
	gs := e.myGrants(t, r.str("access_token"))
	if len(gs) != 1 || gs[0].Device != devUAs[0].Label {
		t.Errorf("grant after refresh from another agent: %+v, want device %q", gs, devUAs[0].Label)
	}
	if n, _ := e.srv.App.FlushUsage(e.ctx); n != 0 {
		t.Errorf("second flush wrote %d usages, want 0", n)
	}

	// Stopping the background jobs (graceful shutdown) flushes what is
	// pending.
	time.Sleep(5 * time.Millisecond)
	e.refreshAs(t, r.str("refresh_token"), devUAs[2].UA)
	ctx, cancel := context.WithCancel(context.Background())
	j := startJobs(ctx, e.srv.App)
	cancel()
	j.stop()
	final, _ := e.srv.DB.GetGrant(e.ctx, grant)
	if !final.LastUsedAt.After(after.LastUsedAt) || final.UserAgent != devUAs[0].UA {
		t.Errorf("shutdown flush did not write the last usage: %+v (before %+v)", final, after)
	}
}

func TestJanitorPass(t *testing.T) {
	e := newDevicesE2E(t)
	ctx := context.Background()
	keep := e.deviceLogin(devUAs[0].UA)
	gone := e.deviceLogin(devUAs[1].UA)
	keepID, goneID := e.grantOfToken(t, keep.AccessToken), e.grantOfToken(t, gone.AccessToken)
	// The family of one grant vanishes from Redis (evicted, or lost).
	if err := e.srv.App.RDB.Del(ctx, e.srv.App.Redis.Key(goneID, "f")).Err(); err != nil {
		t.Fatal(err)
	}
	// A grant past its end, never swept; one revoked 40 days ago.
	db := e.srv.DB
	if err := db.CreateGrant(ctx, &storage.Grant{ID: "ended", Subject: e.sub, ClientID: devClientID, Flow: "authorization_code",
		CreatedAt: time.Now().Add(-48 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateGrant(ctx, &storage.Grant{ID: "ancient", Subject: e.sub, ClientID: devClientID, Flow: "authorization_code",
		CreatedAt: time.Now().Add(-90 * 24 * time.Hour), ExpiresAt: time.Now().Add(-60 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeGrant(ctx, "ancient", storage.RevokedByUser, time.Now().Add(-40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}

	st, err := e.srv.App.Grants.Sweep(ctx, grants.JanitorOptions{Batch: 1, Grace: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	// Only grants past their recorded end are examined (a pass costs what
	// expired since the last one, not the table): "ended" is marked; the
	// grant whose family vanished early is already not active (active means
	// row unrevoked and family live) and is marked once its end passes.
	if st != (grants.JanitorStats{Expired: 1, Deleted: 1}) {
		t.Errorf("janitor stats %+v, want 1 expired, 1 deleted", st)
	}
	if live, err := e.srv.App.Redis.FamiliesLive(ctx, []string{goneID}); err != nil || live[0] {
		t.Errorf("grant with a vanished family counts as live: %v %v", live, err)
	}
	execSQL(t, e.srv, `UPDATE grants SET expires_at = now() - interval '1 second' WHERE id = $1`, goneID)
	if st, err := e.srv.App.Grants.Sweep(ctx, grants.JanitorOptions{Batch: 1, Grace: time.Nanosecond}); err != nil || st.Expired != 1 {
		t.Fatalf("second pass after the vanished grant's end: %+v %v, want it marked", st, err)
	}
	for id, want := range map[string]string{goneID: storage.RevokedExpired, "ended": storage.RevokedExpired, keepID: ""} {
		g, err := db.GetGrant(ctx, id)
		if err != nil || g.RevokeReason != want || (want == "") != (g.RevokedAt == nil) {
			t.Errorf("grant %s: %+v %v, want reason %q", id, g, err, want)
		}
	}
	if _, err := db.GetGrant(ctx, "ancient"); err == nil {
		t.Error("a grant ended 40 days ago survived the janitor")
	}
	if !e.active(keep.AccessToken) || e.devRefresh(keep.RefreshToken).Status != http.StatusOK {
		t.Error("the janitor broke a live grant")
	}

	// The command runs a pass too (nothing left to do).
	out, err := cli(t, e.srv, "janitor")
	if err != nil {
		t.Fatalf("authd janitor: %v\n%s", err, out)
	}
	if !strings.Contains(out, "deleted: 0") {
		t.Errorf("authd janitor: %s", out)
	}
}

// A refresh slides the family's end past the expiry recorded at the grant's
// birth; until the next usage flush the record is stale. The grant must
// stay active for the APIs, be untouched by the janitor, and be revoked by
// "revoke all".
func TestSlidingExpiryBeforeFlush(t *testing.T) {
	e := newDevicesE2E(t, func(c *Config) {
		c.UsageFlushInterval = time.Hour
		c.AccessTokenTTL, c.RefreshTokenTTL = time.Second, 3*time.Second
	})
	tok := e.deviceLogin(devUAs[0].UA)
	time.Sleep(2 * time.Second)
	r := e.refreshAs(t, tok.RefreshToken, devUAs[0].UA)
	time.Sleep(1500 * time.Millisecond)
	gs := decodeGrants(t, e.bearerCall(http.MethodGet, "/admin/subjects/"+e.sub+"/grants", devAdminToken))
	if len(gs) != 1 || gs[0].ExpiresAt.After(time.Now()) {
		t.Fatalf("want one grant whose recorded expiry has passed: %+v", gs)
	}
	if n := e.adminCount(t, e.sub); n != 1 {
		t.Errorf("active count %d, want 1: the family is live", n)
	}
	st, err := e.srv.App.Grants.Sweep(e.ctx, grants.JanitorOptions{Grace: time.Nanosecond})
	if err != nil || st.Expired != 0 {
		t.Errorf("janitor: %+v %v; it must not expire a live family", st, err)
	}
	if rr := e.devRefresh(r.str("refresh_token")); rr.Status != http.StatusOK {
		t.Fatalf("refresh of the slid family: %v", rr)
	}
	if out := cliGrants(t, e, "revoke", "--subject", e.sub); !strings.Contains(out, "1 grant(s)") {
		t.Errorf("revoke all skipped the slid grant: %s", out)
	}
	if n := e.adminCount(t, e.sub); n != 0 {
		t.Errorf("active count %d after revoking all", n)
	}
}

// execSQL runs one statement in the test server's schema.
func execSQL(t *testing.T, srv *testServer, sql string, args ...any) {
	t.Helper()
	cfg, err := pgx.ParseConfig(srv.App.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = srv.App.Config.DatabaseSchema
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}
