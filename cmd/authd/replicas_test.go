package main

// Three authd replicas behind one issuer, sharing one Postgres schema and one
// Redis key prefix: whatever one replica does, the others must see. The
// helpers here are self-contained (plain net/http) so this file depends only
// on harness_test.go.

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/storagetest"
)

const (
	repUser       = "rita"
	repPassword   = "replica-password-123"
	repWebID      = "rep-web" // confidential: authorization_code + refresh_token
	repWebSecret  = "rep-web-secret-0123456789abcdef"
	repSvcID      = "rep-svc" // client_credentials
	repSvcSecret  = "rep-svc-secret-0123456789abcdef"
	repRSID       = "rep-rs" // resource server: may introspect
	repRSSecret   = "rep-rs-secret-0123456789abcdef"
	repRedirect   = "http://127.0.0.1:53683/callback"
	repClientTTL  = time.Second
	repReplicaNum = 3
)

// replica is one authd of the cluster.
type replica struct {
	URL string
	App *App
}

// startReplicas starts n Apps on their own loopback ports with one issuer
// (the first replica's URL), one schema and one Redis prefix, on the test
// Redis Cluster when onCluster is set. cfgFn may adjust the shared config.
func startReplicas(t *testing.T, n int, onCluster bool, cfgFn ...func(*Config)) ([]*replica, *postgres.DB) {
	t.Helper()
	schema := storagetest.Schema(t)
	redisURL, prefix := storagetest.RedisURL(), ""
	if onCluster { // both clean the prefix up afterwards
		redisURL = storagetest.RedisClusterURL()
		_, prefix = storagetest.RedisCluster(t)
	} else {
		_, prefix = storagetest.Redis(t)
	}
	ls := make([]net.Listener, n)
	for i := range ls {
		ls[i] = testListener(t)
	}
	base := testConfig(ls[0], schema, redisURL, prefix) // one issuer: the first replica's URL
	base.ClientCacheTTL = repClientTTL
	for _, f := range cfgFn {
		f(&base)
	}
	db := migratedDB(t, base)
	rs := make([]*replica, n)
	for i, l := range ls {
		cfg := base
		cfg.Addr = l.Addr().String()
		app := serveApp(t, cfg, l, testLogger(nil).With("replica", i+1))
		rs[i] = &replica{URL: "http://" + l.Addr().String(), App: app}
	}
	return rs, db
}

// repFixtures registers the user and the three clients (through the shared
// database, as `authd users/clients create` would).
func repFixtures(t *testing.T, db *postgres.DB) {
	t.Helper()
	ctx := context.Background()
	if _, err := createUser(ctx, db, repUser, repPassword); err != nil {
		t.Fatal(err)
	}
	add := func(c storage.Client, secret string) {
		h, err := storage.HashClientSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		c.SecretHash = h
		if err := db.CreateClient(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	add(storage.Client{
		ID: repWebID, RedirectURIs: []string{repRedirect}, GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile", "offline_access"},
	}, repWebSecret)
	add(storage.Client{ID: repSvcID, GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}}, repSvcSecret)
	add(storage.Client{ID: repRSID, GrantTypes: []string{"client_credentials"}, Introspect: true}, repRSSecret)
}

// repDo sends req with hc (which does not follow redirects).
func repDo(t *testing.T, hc *http.Client, req *http.Request) apiResp {
	t.Helper()
	out, err := fetch(hc, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return out
}

// post sends a form to the replica; basic is "id:secret" or "".
func (r *replica) post(t *testing.T, hc *http.Client, path string, form url.Values, basic string) apiResp {
	t.Helper()
	req, err := formRequest(context.Background(), r.URL+path, form, basic)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", r.URL) // what a browser sends on a form post
	return repDo(t, hc, req)
}

func (r *replica) get(t *testing.T, hc *http.Client, pathAndQuery string) apiResp {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.URL+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	return repDo(t, hc, req)
}

// introspect asks the replica, as the resource server, whether tok is active.
func (r *replica) active(t *testing.T, tok string) bool {
	t.Helper()
	resp := r.post(t, noRedirectClient(nil), "/oauth2/introspect", url.Values{"token": {tok}}, repRSID+":"+repRSSecret)
	a, ok := resp.JSON["active"].(bool)
	if resp.Status != http.StatusOK || !ok {
		t.Fatalf("introspect on %s: %d %s", r.URL, resp.Status, resp.Raw)
	}
	return a
}

// formOf returns a page's (first) form action and the named inputs with a
// value of all its forms.
func formOf(t *testing.T, p apiResp) (action string, inputs url.Values) {
	t.Helper()
	forms := parseForms(t, p.Raw)
	if len(forms) == 0 {
		t.Fatalf("no form in page (status %d): %.500s", p.Status, p.Raw)
	}
	inputs = url.Values{}
	for _, f := range forms {
		for _, in := range f.Fields {
			if in.Input && in.HasValue {
				inputs.Set(in.Name, in.Value)
			}
		}
	}
	return forms[0].Action, inputs
}

func isLoginPage(p apiResp) bool {
	return p.Status == http.StatusOK && strings.Contains(p.Raw, `name="password"`)
}

func isConsentPage(p apiResp) bool {
	return p.Status == http.StatusOK && strings.Contains(p.Raw, `name="consent"`)
}

// repAuthURL is an authorization request of the confidential web client.
func repAuthURL(state string) string {
	return "/oauth2/auth?" + url.Values{
		"response_type": {"code"}, "client_id": {repWebID}, "redirect_uri": {repRedirect},
		"scope": {"openid profile offline_access"}, "state": {state}, "nonce": {"nonce-" + state},
	}.Encode()
}

// signIn posts the login form of page p to replica r; it returns where the
// 303 points.
func signIn(t *testing.T, r *replica, hc *http.Client, p apiResp) string {
	t.Helper()
	if !isLoginPage(p) {
		t.Fatalf("want the sign-in page, got %d: %.500s", p.Status, p.Raw)
	}
	_, in := formOf(t, p)
	resp := r.post(t, hc, "/login", url.Values{
		"username": {repUser}, "password": {repPassword}, "next": {in.Get("next")}, "csrf_token": {in.Get("csrf_token")},
	}, "")
	if resp.Status != http.StatusSeeOther {
		t.Fatalf("POST /login on %s: %d %.500s", r.URL, resp.Status, resp.Raw)
	}
	return resp.Header.Get("Location")
}

// allow posts the consent form of page p to replica r and returns the code;
// if p already is the redirect to the client (consent remembered), it
// returns that code.
func allow(t *testing.T, r *replica, hc *http.Client, p apiResp, state string) string {
	t.Helper()
	resp := p
	if p.Status == http.StatusOK {
		if !isConsentPage(p) {
			t.Fatalf("want the consent page, got %d: %.500s", p.Status, p.Raw)
		}
		action, in := formOf(t, p)
		u, err := url.Parse(action)
		if err != nil {
			t.Fatal(err)
		}
		resp = r.post(t, hc, u.RequestURI(), url.Values{"consent": {"allow"}, "csrf_token": {in.Get("csrf_token")}}, "")
	}
	if resp.Status != http.StatusSeeOther && resp.Status != http.StatusFound {
		t.Fatalf("consent on %s: %d %.500s", r.URL, resp.Status, resp.Raw)
	}
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(cb.String(), repRedirect) || cb.Query().Get("state") != state || cb.Query().Get("code") == "" {
		t.Fatalf("consent redirected to %q", resp.Header.Get("Location"))
	}
	return cb.Query().Get("code")
}

func TestReplicasShareTokensSessionsAndClients(t *testing.T) { testReplicas(t, false) }

// TestReplicasOnRedisCluster is the same with AUTHD_REDIS_URL pointing at the
// test Redis Cluster (redis+cluster://, scripts/services.sh cluster-up).
func TestReplicasOnRedisCluster(t *testing.T) { testReplicas(t, true) }

func testReplicas(t *testing.T, onCluster bool) {
	rs, db := startReplicas(t, repReplicaNum, onCluster)
	repFixtures(t, db)
	r1, r2, r3 := rs[0], rs[1], rs[2]
	api := noRedirectClient(nil)
	web := repWebID + ":" + repWebSecret

	t.Run("a login on replica 1 is valid on replica 2", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		b := noRedirectClient(jar) // one cookie jar: the same browser, whichever replica answers
		state := "state-" + randString(t)
		p := r1.get(t, b, repAuthURL(state))
		signIn(t, r1, b, p)
		state2 := "state-" + randString(t)
		p2 := r2.get(t, b, repAuthURL(state2))
		if isLoginPage(p2) || !isConsentPage(p2) {
			t.Fatalf("replica 2 shows a user signed in on replica 1 %d, want the consent page: %.300s", p2.Status, p2.Raw)
		}
		code := allow(t, r2, b, p2, state2)
		tok := r3.post(t, api, "/oauth2/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {repRedirect},
		}, web)
		if tok.Status != http.StatusOK || tok.str("refresh_token") == "" {
			t.Fatalf("exchange on replica 3 of a code from replica 2: %d %s", tok.Status, tok.Raw)
		}
	})

	t.Run("authorization code: issued on 1, refreshed on 2, revoked on 3", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		b := noRedirectClient(jar)
		state := "state-" + randString(t)
		p := r1.get(t, b, repAuthURL(state))
		next := signIn(t, r1, b, p)
		code := allow(t, r1, b, r1.get(t, b, next), state)
		tok := r1.post(t, api, "/oauth2/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {repRedirect},
		}, web)
		at1, rt1 := tok.str("access_token"), tok.str("refresh_token")
		if tok.Status != http.StatusOK || at1 == "" || rt1 == "" || tok.str("id_token") == "" {
			t.Fatalf("code exchange on replica 1: %d %s", tok.Status, tok.Raw)
		}
		for i, r := range rs {
			if !r.active(t, at1) {
				t.Errorf("replica %d: access token from replica 1 inactive", i+1)
			}
		}
		ref := r2.post(t, api, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}, web)
		at2, rt2 := ref.str("access_token"), ref.str("refresh_token")
		if ref.Status != http.StatusOK || at2 == "" || rt2 == "" || rt2 == rt1 {
			t.Fatalf("refresh on replica 2: %d %s", ref.Status, ref.Raw)
		}
		for i, r := range rs {
			if r.active(t, at1) {
				t.Errorf("replica %d: the rotated-out access token is still active", i+1)
			}
			if !r.active(t, at2) {
				t.Errorf("replica %d: access token refreshed on replica 2 inactive", i+1)
			}
		}
		if rev := r3.post(t, api, "/oauth2/revoke", url.Values{"token": {rt2}}, web); rev.Status != http.StatusOK {
			t.Fatalf("revoke on replica 3: %d %s", rev.Status, rev.Raw)
		}
		for i, r := range rs {
			for _, tk := range []string{at1, rt1, at2, rt2} {
				if r.active(t, tk) {
					t.Errorf("replica %d: a token of the grant revoked on replica 3 is active", i+1)
				}
			}
		}
		again := r1.post(t, api, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}, web)
		if again.Status != http.StatusBadRequest || again.str("error") != "invalid_grant" {
			t.Errorf("refresh of the revoked grant on replica 1: %d %s", again.Status, again.Raw)
		}
	})

	t.Run("client credentials: issued on 1, revoked on 3", func(t *testing.T) {
		tok := r1.post(t, api, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, repSvcID+":"+repSvcSecret)
		at := tok.str("access_token")
		if tok.Status != http.StatusOK || at == "" {
			t.Fatalf("client_credentials on replica 1: %d %s", tok.Status, tok.Raw)
		}
		for i, r := range rs {
			if !r.active(t, at) {
				t.Errorf("replica %d: client_credentials token inactive", i+1)
			}
		}
		if rev := r3.post(t, api, "/oauth2/revoke", url.Values{"token": {at}}, repSvcID+":"+repSvcSecret); rev.Status != http.StatusOK {
			t.Fatalf("revoke on replica 3: %d %s", rev.Status, rev.Raw)
		}
		for i, r := range rs {
			if r.active(t, at) {
				t.Errorf("replica %d: client_credentials token revoked on replica 3 still active", i+1)
			}
		}
	})

	t.Run("a client deleted on replica 1 stops working everywhere within the client cache TTL", func(t *testing.T) {
		svc := repSvcID + ":" + repSvcSecret
		cc := url.Values{"grant_type": {"client_credentials"}}
		for i, r := range rs { // every replica caches the client
			if resp := r.post(t, api, "/oauth2/token", cc, svc); resp.Status != http.StatusOK {
				t.Fatalf("replica %d: client_credentials before delete: %d %s", i+1, resp.Status, resp.Raw)
			}
		}
		if err := r1.App.DB.DeleteClient(context.Background(), repSvcID); err != nil {
			t.Fatal(err)
		}
		deleted := time.Now()
		for i, r := range rs {
			for {
				resp := r.post(t, api, "/oauth2/token", cc, svc)
				if resp.Status == http.StatusUnauthorized && resp.str("error") == "invalid_client" {
					t.Logf("replica %d refuses the deleted client after %v", i+1, time.Since(deleted).Round(time.Millisecond))
					break
				}
				if resp.Status != http.StatusOK {
					t.Fatalf("replica %d: %d %s", i+1, resp.Status, resp.Raw)
				}
				if time.Since(deleted) > repClientTTL+time.Second {
					t.Fatalf("replica %d still issues tokens to a client deleted %v ago (cache TTL %v)", i+1, time.Since(deleted), repClientTTL)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
}
