package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

// Resource indicators (RFC 8707) and audience-restricted introspection
// (issue 16), end to end against real Redis and Postgres.

const (
	resAppID     = "mcp-app" // confidential app registered for three resources, JWT access tokens
	resAppSecret = "mcp-app-secret-0123456789abcdef"
	resA         = "https://a.api.example/"
	resB         = "https://b.api.example/mcp"
	resC         = "https://c.api.example/" // registered for the app, never in its authorization
	rsAID        = "rs-a"                   // resource server of resA (--resource)
	rsBID        = "rs-b"                   // resource server of resB
	rsSecret     = "rs-secret-0123456789abcdef"
)

var resAppBasic = resAppID + ":" + resAppSecret

// newResourceE2E is newE2E plus the app and two resource servers registered
// with --resource. The e2e resource server (e2eRSID) has no --resource.
func newResourceE2E(t *testing.T, cfgFn ...func(*Config)) *e2e {
	t.Helper()
	e := newE2E(t, cfgFn...)
	e.srv.addClient(t, storage.Client{
		ID: resAppID, Name: "MCP App", RedirectURIs: []string{e2eRedirect}, ResponseTypes: []string{"code"},
		GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"},
		Scopes:     []string{"openid", "offline_access", "api:read"}, Audience: []string{resA, resB, resC},
		AccessTokenFormat: "jwt", Introspect: true,
	}, resAppSecret)
	for id, res := range map[string]string{rsAID: resA, rsBID: resB} {
		e.srv.addClient(t, storage.Client{ID: id, GrantTypes: []string{"client_credentials"}, Introspect: true, Resource: res}, rsSecret)
	}
	return e
}

// resourceAuthURL is the app's authorization request for resources.
func resourceAuthURL(e *e2e, state string, resources ...string) string {
	cfg := &oauth2.Config{ClientID: resAppID, Endpoint: e.endpoint(oauth2.AuthStyleInHeader), RedirectURL: e2eRedirect,
		Scopes: []string{"openid", "offline_access"}}
	u := cfg.AuthCodeURL(state)
	for _, r := range resources {
		u += "&resource=" + url.QueryEscape(r)
	}
	return u
}

// resourceCode signs in and returns a code for resources.
func resourceCode(e *e2e, resources ...string) string {
	e.t.Helper()
	state := randString(e.t)
	q := e.authorize(resourceAuthURL(e, state, resources...))
	if q.Get("code") == "" || q.Get("state") != state {
		e.t.Fatalf("callback %v", q)
	}
	return q.Get("code")
}

// exchange redeems code as the app, with resource parameters.
func exchange(e *e2e, code string, resources ...string) apiResp {
	e.t.Helper()
	return e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {e2eRedirect}, "resource": resources}, resAppBasic)
}

// introspectAs introspects token as the client id (secret rsSecret unless
// given) and returns active and the reported aud.
func introspectAs(e *e2e, basic, token string) (bool, []string) {
	e.t.Helper()
	r := e.post("/oauth2/introspect", url.Values{"token": {token}}, basic)
	if r.Status != http.StatusOK {
		e.t.Fatalf("introspect as %s: %v", strings.SplitN(basic, ":", 2)[0], r)
	}
	active, _ := r.JSON["active"].(bool)
	if !active && len(r.JSON) != 1 {
		e.t.Errorf("inactive introspection must be exactly {\"active\":false}, got %s", r.Raw)
	}
	var aud []string
	if a, ok := r.JSON["aud"].([]any); ok {
		for _, v := range a {
			s, _ := v.(string)
			aud = append(aud, s)
		}
	}
	return active, aud
}

// verifyForResource verifies a JWT access token as the resource server of
// res would with go-oidc (signature against authd's JWKS, issuer, expiry,
// aud containing res) and returns its aud.
func verifyForResource(t *testing.T, e *e2e, token, res string) ([]string, error) {
	t.Helper()
	keys := oidc.NewRemoteKeySet(e.oauthCtx(), e.srv.URL+"/.well-known/jwks.json")
	v := oidc.NewVerifier(e.srv.URL, keys, &oidc.Config{ClientID: res, SupportedSigningAlgs: []string{oidc.ES256}})
	tok, err := v.Verify(e.oauthCtx(), token)
	if err != nil {
		return nil, err
	}
	return tok.Audience, nil
}

// The code flow with two resources: the token's aud (JWT and introspection)
// is exactly them; each RS sees it active, an RS of another resource does
// not, an RS without --resource sees it as before. Refresh narrows to a
// subset and refuses anything outside the authorization.
func TestResourceIndicatorsCodeFlow(t *testing.T) {
	e := newResourceE2E(t)
	r := exchange(e, resourceCode(e, resA, resB))
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %v", r)
	}
	at, rt := r.str("access_token"), r.str("refresh_token")
	claims := verifyAccessJWT(t, e, at) // go-jose against the JWKS: typ at+jwt, iss, exp
	if aud, _ := json.Marshal(claims["aud"]); string(aud) != fmt.Sprintf("[%q,%q]", resA, resB) {
		t.Errorf("JWT aud = %s, want [%s %s]", aud, resA, resB)
	}
	for _, res := range []string{resA, resB} {
		if aud, err := verifyForResource(t, e, at, res); err != nil || !sameSet(aud, []string{resA, resB}) {
			t.Errorf("go-oidc verification for %s: %v (aud %v)", res, err, aud)
		}
	}
	if _, err := verifyForResource(t, e, at, resC); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("verified for a resource not in aud: %v", err)
	}
	for _, c := range []struct {
		basic  string
		active bool
	}{{rsAID + ":" + rsSecret, true}, {rsBID + ":" + rsSecret, true}, {rsBasic, true}} {
		active, aud := introspectAs(e, c.basic, at)
		if active != c.active || !sameSet(aud, []string{resA, resB}) {
			t.Errorf("introspection as %s: active %v aud %v", c.basic[:4], active, aud)
		}
	}

	// Narrowed on refresh: a subset is fine, and only its RS sees the token.
	r = e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "resource": {resB}}, resAppBasic)
	if r.Status != http.StatusOK {
		t.Fatalf("narrowing refresh: %v", r)
	}
	narrow, rt2 := r.str("access_token"), r.str("refresh_token")
	if aud, err := verifyForResource(t, e, narrow, resB); err != nil || !slices.Equal(aud, []string{resB}) {
		t.Errorf("narrowed token for %s: %v aud %v", resB, err, aud)
	}
	if a, _ := introspectAs(e, rsAID+":"+rsSecret, narrow); a {
		t.Error("RS of resource A sees a token narrowed to B active")
	}
	if a, aud := introspectAs(e, rsBID+":"+rsSecret, narrow); !a || !slices.Equal(aud, []string{resB}) {
		t.Errorf("RS of resource B: active %v aud %v", a, aud)
	}
	// Outside the authorization (C is registered for the app, but was not
	// asked for), or a superset: invalid_target, and the refresh token
	// stays usable.
	for _, rs := range [][]string{{resC}, {resA, resB, resC}, {"https://evil.example/"}, {"not a uri"}} {
		r = e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}, "resource": rs}, resAppBasic)
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_target")
	}
	// Without resource, the token is again for every resource of the grant.
	r = e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}, resAppBasic)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh after refused ones: %v", r)
	}
	if a, aud := introspectAs(e, rsAID+":"+rsSecret, r.str("access_token")); !a || !sameSet(aud, []string{resA, resB}) {
		t.Errorf("refresh without resource: active %v aud %v, want the grant's", a, aud)
	}
}

// Refused resources: invalid_target redirected from the authorization
// endpoint (RFC 8707 §2, with state and iss), 400 at the token endpoint,
// where the code survives the refusal and can be narrowed.
func TestResourceIndicatorsRefused(t *testing.T) {
	e := newResourceE2E(t)
	b := e.newBrowser()
	for _, rs := range [][]string{{"https://evil.example/"}, {resA, "https://evil.example/"}, {resA + "#frag"}, {"api"}, {resA + "v2"}} {
		p := b.get(resourceAuthURL(e, "state-one-0123456789", rs...))
		if p.Status != http.StatusSeeOther {
			t.Fatalf("authorize %v: %d %.300s", rs, p.Status, p.Body)
		}
		q := callback(t, p.location(t))
		if q.Get("error") != "invalid_target" || q.Get("state") != "state-one-0123456789" || q.Get("iss") != e.srv.URL || q.Get("code") != "" {
			t.Errorf("authorize %v: callback %v, want invalid_target with state and iss", rs, q)
		}
	}
	// The e2e client registered no --audience: any resource is refused.
	p := b.get(e.confConfig().AuthCodeURL("state-two-0123456789") + "&resource=" + url.QueryEscape(resA))
	if q := callback(t, p.location(t)); q.Get("error") != "invalid_target" {
		t.Errorf("client without --audience: %v", q)
	}

	code := resourceCode(e, resA)
	for _, rs := range [][]string{{resB}, {resA, resB}, {"/relative"}} {
		wantOAuthError(t, exchange(e, code, rs...), http.StatusBadRequest, "invalid_target")
	}
	r := exchange(e, code, resA)
	if r.Status != http.StatusOK {
		t.Fatalf("exchange after refused ones: %v", r)
	}
	if aud, err := verifyForResource(t, e, r.str("access_token"), resA); err != nil || !slices.Equal(aud, []string{resA}) {
		t.Errorf("token for %s: %v aud %v", resA, err, aud)
	}
	// A code exchange narrows too.
	r = exchange(e, resourceCode(e, resA, resB), resB)
	if r.Status != http.StatusOK {
		t.Fatalf("narrowing exchange: %v", r)
	}
	if a, aud := introspectAs(e, rsBasic, r.str("access_token")); !a || !slices.Equal(aud, []string{resB}) {
		t.Errorf("narrowed at the exchange: active %v aud %v", a, aud)
	}
	// fosite's audience parameter is not authd's: it is ignored.
	r = e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "audience": {resA}}, resAppBasic)
	if a, aud := introspectAs(e, rsBasic, r.str("access_token")); r.Status != http.StatusOK || !a || len(aud) != 0 {
		t.Errorf("audience parameter: %v, active %v aud %v", r, a, aud)
	}
}

// client_credentials with resources; an RS with --resource sees only its
// own audience's tokens; the RS without --resource is unchanged.
func TestResourceIndicatorsClientCredentials(t *testing.T) {
	e := newResourceE2E(t)
	cc := func(rs ...string) apiResp {
		return e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}, "resource": rs}, resAppBasic)
	}
	r := cc(resA)
	if r.Status != http.StatusOK {
		t.Fatalf("client_credentials for %s: %v", resA, r)
	}
	forA := r.str("access_token")
	if aud, err := verifyForResource(t, e, forA, resA); err != nil || !slices.Equal(aud, []string{resA}) {
		t.Errorf("client_credentials token: %v aud %v", err, aud)
	}
	for _, rs := range [][]string{{"https://evil.example/"}, {resA, "https://evil.example/"}, {"urn:x#y"}} {
		wantOAuthError(t, cc(rs...), http.StatusBadRequest, "invalid_target")
	}
	// Without resource: today's behaviour, aud is the client (RFC 9068).
	plain := cc()
	if plain.Status != http.StatusOK {
		t.Fatalf("client_credentials without resource: %v", plain)
	}
	if aud, err := verifyForResource(t, e, plain.str("access_token"), resAppID); err != nil || !slices.Equal(aud, []string{resAppID}) {
		t.Errorf("token without resource: %v aud %v, want the client id", err, aud)
	}
	// The e2e confidential client's opaque token, without any resource.
	opaque := ccToken(t, e.hc, e.srv.URL, confBasic, "api:read")

	for _, c := range []struct {
		who                string
		basic              string
		forA, plain, other bool
	}{
		{"RS of A", rsAID + ":" + rsSecret, true, false, false},
		{"RS of B", rsBID + ":" + rsSecret, false, false, false},
		{"RS without --resource", rsBasic, true, true, true},
	} {
		for _, tok := range []struct {
			name, token string
			want        bool
		}{{"token for A", forA, c.forA}, {"token without resource", plain.str("access_token"), c.plain}, {"opaque token", opaque, c.other}} {
			if got, _ := introspectAs(e, c.basic, tok.token); got != tok.want {
				t.Errorf("%s, %s: active %v, want %v", c.who, tok.name, got, tok.want)
			}
		}
	}
}

// Refresh tokens are reported active only to the client holding them;
// before issue 16 any --introspect client saw them.
func TestIntrospectRefreshTokenOnlyHolder(t *testing.T) {
	e := newResourceE2E(t)
	r := exchange(e, resourceCode(e, resA))
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %v", r)
	}
	rt := r.str("refresh_token")
	for _, basic := range []string{rsBasic, rsAID + ":" + rsSecret} {
		if a, _ := introspectAs(e, basic, rt); a {
			t.Errorf("%s sees the app's refresh token active", strings.SplitN(basic, ":", 2)[0])
		}
	}
	// The holder sees it, as RFC 7662 allows: it says it is a refresh token
	// (no token_type), and its exp is its own (the test server's refresh
	// lifetime is 24 h), not its access token's.
	resp := e.post("/oauth2/introspect", url.Values{"token": {rt}}, resAppBasic)
	if resp.Status != http.StatusOK || resp.JSON["active"] != true || resp.str("token_use") != "refresh_token" ||
		resp.str("client_id") != resAppID || resp.str("token_type") != "" || resp.str("sub") != e.sub {
		t.Errorf("the holder introspecting its refresh token: %v", resp)
	}
	rexp, _ := resp.JSON["exp"].(float64)
	if d := time.Until(time.Unix(int64(rexp), 0)); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("refresh token exp %v is %v away, want ~24h", rexp, d)
	}
	// The RS without --resource still sees the access token (today's rule).
	if a, _ := introspectAs(e, rsBasic, r.str("access_token")); !a {
		t.Error("RS without --resource no longer sees access tokens")
	}
}

// The CLI registers and changes --audience and --resource, shows them in
// clients list --json, and refuses what is not a resource URI.
func TestClientsResourceCLI(t *testing.T) {
	e := newE2E(t, shortClientCache)
	if out, err := cli(t, e.srv, "clients", "create", "--id", "svc", "--grant-types", "client_credentials",
		"--audience", resA, "--audience", resB, "--resource", resC, "--introspect"); err != nil {
		t.Fatalf("create: %v %s", err, out)
	}
	c := clientJSONOf(t, e.srv, "svc")
	if fmt.Sprintf("%v %v", c["audience"], c["resource"]) != fmt.Sprintf("[%s %s] %s", resA, resB, resC) {
		t.Errorf("list --json: audience %v resource %v", c["audience"], c["resource"])
	}
	if out, err := cli(t, e.srv, "clients", "update", "--id", e2eConfID, "--audience", resA); err != nil {
		t.Fatalf("update: %v %s", err, out)
	}
	time.Sleep(2 * lifecycleCacheTTL) // every cached copy of the old registration is gone
	r := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "resource": {resA}}, confBasic)
	if r.Status != http.StatusOK {
		t.Fatalf("client_credentials for the resource registered by update: %v", r)
	}
	if a, aud := introspectAs(e, rsBasic, r.str("access_token")); !a || !slices.Equal(aud, []string{resA}) {
		t.Errorf("introspection: %v %v", a, aud)
	}
	if _, err := cli(t, e.srv, "clients", "update", "--id", "svc", "--resource", "", "--audience", ""); err != nil {
		t.Fatal(err)
	}
	if c := clientJSONOf(t, e.srv, "svc"); fmt.Sprintf("%v %v", c["audience"], c["resource"]) != "[] " {
		t.Errorf("after clearing: audience %v resource %q", c["audience"], c["resource"])
	}
	for _, args := range [][]string{
		{"clients", "create", "--id", "bad1", "--grant-types", "client_credentials", "--audience", "api"},
		{"clients", "create", "--id", "bad2", "--grant-types", "client_credentials", "--resource", resA + "#x"},
		{"clients", "update", "--id", "svc", "--audience", resA, "--audience", "/relative"},
		{"clients", "update", "--id", "svc", "--resource", "https://"},
	} {
		if _, err := cli(t, e.srv, args...); exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args[3:], err)
		}
	}
}

// The device flow (RFC 8628) carries resources from the device
// authorization request into its grant, like an authorization request.
func TestResourceIndicatorsDeviceFlow(t *testing.T) {
	f := newDevFixture(t)
	f.srv.addClient(t, storage.Client{ID: "mcp-tv", GrantTypes: []string{storage.DeviceCodeGrantType, "refresh_token"},
		Scopes: []string{"openid", "offline_access"}, Audience: []string{resA, resB}}, "")
	f.srv.addClient(t, storage.Client{ID: rsAID, GrantTypes: []string{"client_credentials"}, Introspect: true, Resource: resA}, rsSecret)
	start := func(rs ...string) apiResp {
		return devPost(t, f.srv.URL+"/oauth2/device/auth", url.Values{"client_id": {"mcp-tv"}, "scope": {"openid offline_access"}, "resource": rs})
	}
	for _, rs := range [][]string{{"https://evil.example/"}, {resA, "api"}} {
		wantDevError(t, start(rs...), http.StatusBadRequest, "invalid_target")
	}
	r := start(resA, resB)
	if r.Status != http.StatusOK {
		t.Fatalf("device authorization: %v", r)
	}
	b := newDevBrowser(t, f.srv.URL)
	if done := b.decide(b.signIn(b.get(f.srv.URL+"/device?user_code="+r.str("user_code"))), "approve"); done.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", done.Status, done.Body)
	}
	tok := f.poll(t, "mcp-tv", "", r.str("device_code"))
	if tok.Status != http.StatusOK {
		t.Fatalf("poll: %v", tok)
	}
	in := f.introspect(t, tok.str("access_token")) // the RS without --resource
	if got := fmt.Sprint(in.JSON["aud"]); in.JSON["active"] != true || got != fmt.Sprintf("[%s %s]", resA, resB) {
		t.Errorf("device token: active %v aud %s", in.JSON["active"], got)
	}
	ref := devPost(t, f.srv.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"mcp-tv"},
		"refresh_token": {tok.str("refresh_token")}, "resource": {resB}})
	if ref.Status != http.StatusOK {
		t.Fatalf("narrowing refresh: %v", ref)
	}
	rsA := devPost(t, f.srv.URL+"/oauth2/introspect", url.Values{"token": {ref.str("access_token")}}, rsAID, rsSecret)
	if rsA.Status != http.StatusOK || rsA.Raw != `{"active":false}` {
		t.Errorf("RS of A introspecting a token narrowed to B: %v", rsA)
	}
}

// A resource taken from the app's --audience ends the refreshes of the
// grants that include it, narrowed or not; new requests for it are refused.
func TestResourceRemovedFromAudience(t *testing.T) {
	e := newResourceE2E(t, shortClientCache)
	r := exchange(e, resourceCode(e, resA, resB))
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %v", r)
	}
	kept := exchange(e, resourceCode(e, resA))
	if kept.Status != http.StatusOK {
		t.Fatalf("exchange: %v", kept)
	}
	if out, err := cli(t, e.srv, "clients", "update", "--id", resAppID, "--audience", resA); err != nil {
		t.Fatalf("update: %v %s", err, out)
	}
	time.Sleep(2 * lifecycleCacheTTL)
	for _, rs := range [][]string{nil, {resA}} {
		ref := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}, "resource": rs}, resAppBasic)
		wantOAuthError(t, ref, http.StatusBadRequest, "invalid_target")
	}
	if ref := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {kept.str("refresh_token")}}, resAppBasic); ref.Status != http.StatusOK {
		t.Errorf("a grant of the resource still registered: %v", ref)
	}
	wantOAuthError(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "resource": {resB}}, resAppBasic), http.StatusBadRequest, "invalid_target")
}

// backendCalls sums, from the served /metrics, the Redis commands (a
// pipeline counts once) and the Postgres statements the server has run.
func backendCalls(t *testing.T, e *e2e) (redisCalls, pgCalls float64) {
	t.Helper()
	resp, err := e.hc.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, _, _ := strings.Cut(line, "{")
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			continue
		}
		switch name {
		case "authd_redis_command_duration_seconds_count":
			redisCalls += v
		case "authd_postgres_query_duration_seconds_count":
			pgCalls += v
		}
	}
	return redisCalls, pgCalls
}

// The audience check costs no storage call: introspecting an access token as
// a resource server with --resource, shown or hidden, is one Redis read and
// no Postgres; a refresh token hidden from it touches no Postgres either.
func TestIntrospectionAudienceStaysOneRedisRead(t *testing.T) {
	e := newResourceE2E(t, func(c *Config) { c.UsageFlushInterval, c.KeyRotation = 0, 0 })
	r := exchange(e, resourceCode(e, resA))
	other := exchange(e, resourceCode(e, resB))
	if r.Status != http.StatusOK || other.Status != http.StatusOK {
		t.Fatalf("exchanges: %v %v", r, other)
	}
	rsA := rsAID + ":" + rsSecret
	tokens := map[string]bool{r.str("access_token"): true, other.str("access_token"): false}
	for tok, want := range tokens { // warm: the caller's registration is cached now
		if got, _ := introspectAs(e, rsA, tok); got != want {
			t.Fatalf("RS of A: active %v, want %v", got, want)
		}
	}
	const rounds = 10
	redis0, pg0 := backendCalls(t, e)
	for range rounds {
		for tok, want := range tokens {
			if got, _ := introspectAs(e, rsA, tok); got != want {
				t.Fatalf("RS of A: active %v, want %v", got, want)
			}
		}
	}
	redis1, pg1 := backendCalls(t, e)
	if n := redis1 - redis0; n < 1 || n > rounds*float64(len(tokens)) {
		t.Errorf("%v Redis calls for %d introspections, want at most one each", n, rounds*len(tokens))
	}
	if pg1 != pg0 {
		t.Errorf("%v Postgres statements during introspection, want none", pg1-pg0)
	}
	t.Logf("%d introspections: %v Redis calls, %v Postgres statements", rounds*len(tokens), redis1-redis0, pg1-pg0)
	for range rounds {
		if a, _ := introspectAs(e, rsA, r.str("refresh_token")); a {
			t.Fatal("RS of A sees the app's refresh token")
		}
	}
	if _, pg2 := backendCalls(t, e); pg2 != pg1 {
		t.Errorf("%v Postgres statements introspecting refresh tokens, want none", pg2-pg1)
	}
}
