package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/authd/authd/logout"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/storagetest"
)

// Back-Channel Logout 1.0 end to end: relying parties in the test receive
// the logout tokens of a real authd and verify each with go-jose against
// authd's JWKS, as an RP would.

// testRP is a relying party's back-channel logout endpoint.
type testRP struct {
	t      *testing.T
	issuer string
	client string
	fail   atomic.Int32 // it answers 503 to calls up to this one
	delay  time.Duration
	mu     sync.Mutex
	tokens []map[string]any // the claims of the verified tokens it accepted (200)
	calls  atomic.Int32
	srv    *httptest.Server
}

func newTestRP(t *testing.T, issuer, client string) *testRP {
	rp := &testRP{t: t, issuer: issuer, client: client}
	rp.srv = httptest.NewServer(rp)
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *testRP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := rp.calls.Add(1)
	time.Sleep(rp.delay)
	claims, err := rp.verify(r)
	if err != nil {
		rp.t.Errorf("RP %s: %v", rp.client, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if n <= rp.fail.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	rp.mu.Lock()
	rp.tokens = append(rp.tokens, claims)
	rp.mu.Unlock()
}

// verify checks the request's logout token (Back-Channel Logout 1.0 §2.6):
// a form POST, typ logout+jwt, signed by a key of authd's JWKS (its kid),
// iss, aud, iat, exp (short), jti, the event, sid and sub, no nonce.
func (rp *testRP) verify(r *http.Request) (map[string]any, error) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("%s %s", r.Method, r.Header.Get("Content-Type"))
	}
	tok, err := josejwt.ParseSigned(r.PostFormValue("logout_token"), []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return nil, err
	}
	h := tok.Headers[0]
	if h.ExtraHeaders["typ"] != "logout+jwt" {
		return nil, fmt.Errorf("typ %v", h.ExtraHeaders["typ"])
	}
	key, err := rp.jwk(h.KeyID)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	var std josejwt.Claims
	if err := tok.Claims(key, &claims, &std); err != nil {
		return nil, err
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: rp.issuer, AnyAudience: []string{rp.client}, Time: time.Now()}, 5*time.Second); err != nil {
		return nil, err
	}
	if aud, _ := claims["aud"].(string); aud != rp.client {
		return nil, fmt.Errorf("aud %v", claims["aud"])
	}
	if std.IssuedAt == nil || std.Expiry == nil || std.Expiry.Time().Sub(std.IssuedAt.Time()) > 2*time.Minute ||
		time.Since(std.IssuedAt.Time()) > time.Minute || std.ID == "" {
		return nil, fmt.Errorf("iat/exp/jti %v", claims)
	}
	ev, _ := claims["events"].(map[string]any)
	if e, ok := ev[logout.BackChannelEvent].(map[string]any); !ok || len(e) != 0 || len(ev) != 1 {
		return nil, fmt.Errorf("events %v", claims["events"])
	}
	if _, ok := claims["nonce"]; ok {
		return nil, fmt.Errorf("nonce in a logout token")
	}
	if s, _ := claims["sid"].(string); s == "" {
		return nil, fmt.Errorf("no sid: %v", claims)
	}
	if s, _ := claims["sub"].(string); s == "" {
		return nil, fmt.Errorf("no sub: %v", claims)
	}
	return claims, nil
}

// jwk is authd's published key kid, fetched from its JWKS.
func (rp *testRP) jwk(kid string) (*jose.JSONWebKey, error) {
	resp, err := http.Get(rp.issuer + "/.well-known/jwks.json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, err
	}
	if ks := set.Key(kid); len(ks) == 1 {
		return &ks[0], nil
	}
	return nil, fmt.Errorf("kid %q not in authd's JWKS", kid)
}

// got is a copy of the verified tokens so far.
func (rp *testRP) got() []map[string]any {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]map[string]any(nil), rp.tokens...)
}

// waitTokens waits until rp has accepted n tokens.
func (rp *testRP) waitTokens(n int, within time.Duration) []map[string]any {
	rp.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := rp.got(); len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	rp.t.Fatalf("RP %s: %d tokens within %s, want %d (%d calls)", rp.client, len(rp.got()), within, n, rp.calls.Load())
	return nil
}

// registerRP registers a code client whose back-channel logout URI is rp.
func registerRP(t *testing.T, s *testServer, rp *testRP, alg string) {
	t.Helper()
	s.addClient(t, storage.Client{
		ID: rp.client, Name: rp.client, RedirectURIs: []string{e2eRedirect}, GrantTypes: []string{"authorization_code"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid"}, IDTokenAlg: alg,
		BackchannelLogoutURI: rp.srv.URL + "/backchannel",
	}, "")
}

// fastRetries makes back-channel retries come after 300 ms.
func fastRetries(c *Config) {
	c.backchannelBackoff = logout.Backoff{Base: 300 * time.Millisecond, Max: time.Second}
}

// metricValue reads a counter from the App's /metrics.
func metricValue(t *testing.T, s *testServer, name string) float64 {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v float64
	for _, line := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(line, name+" %g", &v); err == nil {
			return v
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// signInThrough authorizes client (a public PKCE client with e2eRedirect)
// in browser b and returns its verified ID token and claims.
func (e *e2e) signInThrough(b *browser, client string) (string, map[string]any) {
	e.t.Helper()
	run := &oidcRun{e: e, b: b, verifier: oauth2.GenerateVerifier(), state: randString(e.t), cfg: &oauth2.Config{
		ClientID: client, Endpoint: e.endpoint(oauth2.AuthStyleInParams), RedirectURL: e2eRedirect, Scopes: []string{"openid"},
	}}
	p := b.get(run.cfg.AuthCodeURL(run.state, oauth2.S256ChallengeOption(run.verifier), oauth2.SetAuthURLParam("nonce", randString(e.t))))
	tok, err := run.cfg.Exchange(e.oauthCtx(), run.finish(p).Get("code"), oauth2.VerifierOption(run.verifier))
	if err != nil {
		e.t.Fatalf("exchange for %s: %v", client, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.provider().Verifier(&oidc.Config{ClientID: client}).Verify(e.ctx, raw)
	if err != nil {
		e.t.Fatalf("ID token of %s: %v", client, err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		e.t.Fatal(err)
	}
	return raw, claims
}

// rpLogout signs b out with hint (RP-initiated logout, no redirect) and
// returns how long the request took.
func (e *e2e) rpLogout(b *browser, hint string) time.Duration {
	e.t.Helper()
	start := time.Now()
	p := b.get(e.logoutURL(url.Values{"id_token_hint": {hint}}))
	d := time.Since(start)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="signed-out"`) {
		e.t.Fatalf("logout: %d %.500s", p.Status, p.Body)
	}
	return d
}

// wantLogoutToken checks the RP got one logout token for the session of
// idClaims (its sid and sub).
func wantLogoutToken(t *testing.T, rp *testRP, idClaims map[string]any) {
	t.Helper()
	got := rp.waitTokens(1, 15*time.Second)
	sid, _ := idClaims["sid"].(string)
	if sid == "" {
		t.Fatalf("the ID token has no sid: %v", idClaims)
	}
	last := got[len(got)-1]
	if last["sid"] != sid || last["sub"] != idClaims["sub"] {
		t.Fatalf("RP %s: logout token sid %v sub %v, want the ID token's %v %v", rp.client, last["sid"], last["sub"], sid, idClaims["sub"])
	}
}

// TestBackChannelLogoutE2E: a browser signed in through two apps (one
// RS256, one ES256) and a third without a back-channel URI; an
// RP-initiated logout by one of them delivers a verified logout token for
// that session to both back-channel apps, and only to them; the other
// session of the same user (another browser) keeps signed in and is told
// about nothing.
func TestBackChannelLogoutE2E(t *testing.T) {
	e := newE2E(t)
	rpA, rpB := newTestRP(t, e.srv.URL, "rp-a"), newTestRP(t, e.srv.URL, "rp-b")
	registerRP(t, e.srv, rpA, "RS256")
	registerRP(t, e.srv, rpB, "ES256")
	b := e.newBrowser()
	hint, claimsA := e.signInThrough(b, "rp-a")
	_, claimsB := e.signInThrough(b, "rp-b")
	e.signInThrough(b, e2ePubID)
	if claimsA["sid"] != claimsB["sid"] {
		t.Fatalf("one browser session, two sids: %v %v", claimsA["sid"], claimsB["sid"])
	}
	other := e.newBrowser()
	_, otherClaims := e.signInThrough(other, "rp-a")
	e.rpLogout(b, hint)
	wantLogoutToken(t, rpA, claimsA)
	wantLogoutToken(t, rpB, claimsB)
	time.Sleep(300 * time.Millisecond)
	if len(rpA.got()) != 1 || len(rpB.got()) != 1 {
		t.Fatalf("tokens: rp-a %d, rp-b %d, want one each", len(rpA.got()), len(rpB.got()))
	}
	if rpA.got()[0]["jti"] == rpB.got()[0]["jti"] {
		t.Fatal("two logout tokens with one jti")
	}
	if otherClaims["sid"] == claimsA["sid"] {
		t.Fatal("two browsers share a sid")
	}
	left, err := e.srv.App.Sessions.List(e.ctx, e.sub)
	if err != nil || len(left) != 1 || left[0].ID != otherClaims["sid"] {
		t.Fatalf("sessions left: %v %v, want only the other browser's %v", left, err, otherClaims["sid"])
	}
	if v := metricValue(t, e.srv, "authd_backchannel_logout_delivered_total"); v != 2 {
		t.Fatalf("delivered %v, want 2", v)
	}
}

// TestBackChannelRetryAfter503: an RP that answers 503 gets the logout
// again after the backoff, and the retry is counted.
func TestBackChannelRetryAfter503(t *testing.T) {
	e := newE2E(t, fastRetries)
	rp := newTestRP(t, e.srv.URL, "rp-flaky")
	registerRP(t, e.srv, rp, "RS256")
	rp.fail.Store(1)
	b := e.newBrowser()
	hint, claims := e.signInThrough(b, rp.client)
	e.rpLogout(b, hint)
	wantLogoutToken(t, rp, claims)
	if n := rp.calls.Load(); n < 2 {
		t.Fatalf("%d calls, want the 503 and a retry", n)
	}
	if v := metricValue(t, e.srv, "authd_backchannel_logout_retried_total"); v < 1 {
		t.Fatalf("retried %v", v)
	}
	if v := metricValue(t, e.srv, "authd_backchannel_logout_delivered_total"); v != 1 {
		t.Fatalf("delivered %v", v)
	}
}

// TestBackChannelFanOutDoesNotSlowLogout: a logout whose session signed in
// through 20 apps whose back-channel endpoints take 3 s returns as fast as
// one through 20 apps without back-channel logout.
func TestBackChannelFanOutDoesNotSlowLogout(t *testing.T) {
	e := newE2E(t)
	const n = 20
	var slow []string
	for i := range n {
		rp := newTestRP(t, e.srv.URL, fmt.Sprintf("slow-%d", i))
		rp.delay = 3 * time.Second
		registerRP(t, e.srv, rp, "ES256")
		slow = append(slow, rp.client)
		e.srv.addClient(t, storage.Client{
			ID: fmt.Sprintf("plain-%d", i), RedirectURIs: []string{e2eRedirect}, GrantTypes: []string{"authorization_code"},
			ResponseTypes: []string{"code"}, Scopes: []string{"openid"},
		}, "")
	}
	session := func(prefix string) (*browser, string) {
		b := e.newBrowser()
		var hint string
		for i := range n {
			hint, _ = e.signInThrough(b, fmt.Sprintf("%s-%d", prefix, i))
		}
		return b, hint
	}
	bPlain, hPlain := session("plain")
	bSlow, hSlow := session("slow")
	none := e.rpLogout(bPlain, hPlain)
	fanOut := e.rpLogout(bSlow, hSlow)
	t.Logf("logout fanning out to none: %v; to %d slow apps: %v", none, n, fanOut)
	if fanOut > none+750*time.Millisecond || fanOut > 2*time.Second {
		t.Fatalf("logout with %d slow back-channel apps took %v (none: %v)", n, fanOut, none)
	}
	if v := metricValue(t, e.srv, "authd_backchannel_logout_queued_total"); v != n {
		t.Fatalf("queued %v, want %d", v, n)
	}
}

// TestBackChannelAfterRestart: a delivery pending when authd stops (its RP
// answered 503) is delivered by the next authd on the same Redis and
// database.
func TestBackChannelAfterRestart(t *testing.T) {
	_, prefix := storagetest.Redis(t)
	l := testListener(t)
	cfg := testConfig(l, storagetest.Schema(t), storagetest.RedisURL(), prefix)
	cfg.backchannelBackoff = logout.Backoff{Base: 2 * time.Second, Max: 2 * time.Second}
	db := migratedDB(t, cfg)
	first, stop := stoppableApp(t, cfg, l)
	srv := &testServer{URL: cfg.Issuer, App: first, DB: db}
	e := &e2e{t: t, srv: srv, ctx: context.Background(), hc: noRedirectClient(nil)}
	e.sub = srv.addUser(t, e2eUser, e2ePassword)
	rp := newTestRP(t, cfg.Issuer, "rp-restart")
	registerRP(t, srv, rp, "RS256")
	rp.fail.Store(1 << 30)
	b := e.newBrowser()
	hint, claims := e.signInThrough(b, rp.client)
	e.rpLogout(b, hint)
	deadline := time.Now().Add(10 * time.Second)
	for rp.calls.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if rp.calls.Load() < 1 {
		t.Fatal("the first authd never tried to deliver")
	}
	stop() // the job is due again in 2 s; this authd will not be there
	rp.fail.Store(0)
	calls := rp.calls.Load()
	time.Sleep(2500 * time.Millisecond)
	if rp.calls.Load() != calls {
		t.Fatal("a stopped authd delivered")
	}
	l2, err := net.Listen("tcp", cfg.Addr) // the same issuer (and JWKS) again
	if err != nil {
		t.Fatal(err)
	}
	second := serveApp(t, cfg, l2, testLogger(nil))
	wantLogoutToken(t, rp, claims)
	if v := second.BackChannel; v == nil {
		t.Fatal("no back-channel worker")
	}
}

// stoppableApp serves an App on l until stop (or the test's end).
func stoppableApp(t *testing.T, cfg Config, l net.Listener) (*App, func()) {
	t.Helper()
	app, err := NewApp(context.Background(), cfg, testLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, l) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			app.Close()
		})
	}
	t.Cleanup(stop)
	return app, stop
}

// TestFrontChannelLogoutE2E: an RP-initiated logout of a session signed in
// through an app with a front-channel logout URI renders the signed-out
// page with that URI, iss and the session's sid in an iframe its CSP
// allows, and moves on to the registered post-logout redirect URI with
// state; an app of the session without one gets no frame.
func TestFrontChannelLogoutE2E(t *testing.T) {
	e := logoutE2E(t)
	e.srv.addClient(t, storage.Client{
		ID: "fc-app", RedirectURIs: []string{e2eRedirect}, GrantTypes: []string{"authorization_code"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid"}, FrontchannelLogoutURI: "https://fc.example/logout?app=1",
	}, "")
	b := e.newBrowser()
	_, claims := e.signInThrough(b, "fc-app")
	hint, _ := e.signInThrough(b, e2ePubID)
	p := b.get(e.logoutURL(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {e2eLogoutRedirect}, "state": {"fc"}}))
	if p.Status != http.StatusOK {
		t.Fatalf("logout: %d %.500s", p.Status, p.Body)
	}
	sid, _ := claims["sid"].(string)
	frame := "https://fc.example/logout?" + url.Values{"app": {"1"}, "iss": {e.srv.URL}, "sid": {sid}}.Encode()
	if sid == "" || !strings.Contains(p.Body, `<iframe class="fcl" src="`+strings.ReplaceAll(frame, "&", "&amp;")+`"`) || strings.Count(p.Body, "<iframe") != 1 {
		t.Fatalf("want one iframe of %s, got %.1500s", frame, p.Body)
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-src https://fc.example;") {
		t.Fatalf("CSP %q does not allow the frame", csp)
	}
	next := e2eLogoutRedirect + "?state=fc"
	if !strings.Contains(p.Body, `<meta http-equiv="refresh" content="2;url=`+next+`">`) || !strings.Contains(p.Body, `href="`+next+`"`) {
		t.Fatalf("no way on to %s: %.1500s", next, p.Body)
	}
	e.wantSignedOut(b)
}

// TestBackChannelOnEveryEnd: however a session ends — the Sign out button
// of authd's own page, the admin API, `authd grants revoke --subject` from
// the command line (which only queues; the server delivers) — its apps get
// a logout token for exactly that session.
func TestBackChannelOnEveryEnd(t *testing.T) {
	e := newE2E(t, func(c *Config) { c.AdminToken = devAdminToken })
	rp := newTestRP(t, e.srv.URL, "rp-every")
	registerRP(t, e.srv, rp, "ES256")
	sid := func(c map[string]any) string { s, _ := c["sid"].(string); return s }

	b := e.newBrowser()
	_, claims := e.signInThrough(b, rp.client)
	f := onlyForm(t, b.get(e.srv.URL+"/login"))
	if p := b.post(e.srv.URL+f.Action, url.Values{"csrf_token": {csrfToken(t, f)}}); f.Action != "/logout" || p.Status != http.StatusSeeOther {
		t.Fatalf("sign out on the page: %q %d", f.Action, p.Status)
	}
	wantLogoutToken(t, rp, claims)

	_, claims = e.signInThrough(e.newBrowser(), rp.client)
	if r := e.bearerCall(http.MethodDelete, "/admin/subjects/"+url.PathEscape(e.sub)+"/sessions", devAdminToken); r.Status/100 != 2 {
		t.Fatalf("admin end sessions: %v", r)
	}
	if got := rp.waitTokens(2, 15*time.Second); got[1]["sid"] != sid(claims) {
		t.Fatalf("after the admin's: %v, want sid %s", got[1], sid(claims))
	}

	_, claims = e.signInThrough(e.newBrowser(), rp.client)
	if out, err := cli(t, e.srv, "grants", "revoke", "--subject", e.sub); err != nil {
		t.Fatalf("grants revoke: %v %s", err, out)
	}
	if got := rp.waitTokens(3, 15*time.Second); got[2]["sid"] != sid(claims) {
		t.Fatalf("after the CLI's: %v, want sid %s", got[2], sid(claims))
	}
}
