package main

// End-to-end tests of the device authorization grant (RFC 8628) against a
// real authd: the device starts the flow and polls the token endpoint, a
// person approves on the verification page over HTTP with a cookie jar (or
// in headless Chromium, see deviceflow_browser_test.go).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/token"
)

const (
	devUser     = "dora"
	devPassword = "dora-password-1"
	devScopes   = "openid profile offline_access"
)

// devFixture is a server with a user, a public device client (with refresh
// tokens), a confidential device client, a code-only client and an
// introspecting resource server.
type devFixture struct {
	srv     *testServer
	subject string
}

func newDevFixture(t *testing.T, cfgFn ...func(*Config)) *devFixture {
	t.Helper()
	srv := startServer(t, cfgFn...)
	f := &devFixture{srv: srv, subject: srv.addUser(t, devUser, devPassword)}
	srv.addClient(t, storage.Client{
		ID: "tv", Name: "Living Room TV", GrantTypes: []string{storage.DeviceCodeGrantType, "refresh_token"},
		Scopes: []string{"openid", "profile", "offline_access"},
	}, "")
	srv.addClient(t, storage.Client{
		ID: "console", Name: "Game Console", GrantTypes: []string{storage.DeviceCodeGrantType},
		Scopes: []string{"openid", "profile"},
	}, "console-secret-0123456789")
	srv.addClient(t, storage.Client{
		ID: "webapp", Name: "Web App", GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		RedirectURIs: []string{"http://127.0.0.1:9/cb"}, Scopes: []string{"openid"},
	}, "")
	srv.addClient(t, storage.Client{
		ID: "rs", Name: "Resource Server", GrantTypes: []string{"client_credentials"}, Introspect: true,
	}, "rs-secret-0123456789")
	return f
}

// devPost posts form to u; basic is the client id and secret, or nothing.
// The answer must be JSON.
func devPost(t testing.TB, u string, form url.Values, basic ...string) apiResp {
	t.Helper()
	req, err := formRequest(context.Background(), u, form, strings.Join(basic, ":"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := fetch(&http.Client{Timeout: 10 * time.Second}, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out.Raw), new(map[string]any)); err != nil {
		t.Fatalf("POST %s: %d, not JSON: %q", u, out.Status, out.Raw)
	}
	return out
}

func wantDevError(t testing.TB, r apiResp, status int, code string) {
	t.Helper()
	if r.Status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d with error %q", r.Status, r.Raw, status, code)
	}
}

// deviceAuth is a device authorization response.
type deviceAuth struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

var userCodeFormat = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// startDevice starts a device authorization as client (secret "" for a
// public client).
func (f *devFixture) startDevice(t testing.TB, client, secret, scope string) deviceAuth {
	t.Helper()
	form := url.Values{"scope": {scope}}
	var basic []string
	if secret == "" {
		form.Set("client_id", client)
	} else {
		basic = []string{client, secret}
	}
	r := devPost(t, f.srv.URL+"/oauth2/device/auth", form, basic...)
	if r.Status != http.StatusOK {
		t.Fatalf("device authorization: %d %s", r.Status, r.Raw)
	}
	var d deviceAuth
	if err := json.Unmarshal([]byte(r.Raw), &d); err != nil {
		t.Fatal(err)
	}
	if !userCodeFormat.MatchString(d.UserCode) || d.DeviceCode == "" || d.Interval != 5 || d.ExpiresIn <= 0 ||
		d.VerificationURI != f.srv.URL+"/device" || d.VerificationURIComplete != f.srv.URL+"/device?user_code="+d.UserCode {
		t.Fatalf("bad device authorization response %s", r.Raw)
	}
	return d
}

func (f *devFixture) poll(t testing.TB, client, secret, deviceCode string) apiResp {
	t.Helper()
	form := url.Values{"grant_type": {storage.DeviceCodeGrantType}, "device_code": {deviceCode}}
	if secret == "" {
		form.Set("client_id", client)
		return devPost(t, f.srv.URL+"/oauth2/token", form)
	}
	return devPost(t, f.srv.URL+"/oauth2/token", form, client, secret)
}

func (f *devFixture) introspect(t testing.TB, token string) apiResp {
	t.Helper()
	r := devPost(t, f.srv.URL+"/oauth2/introspect", url.Values{"token": {token}}, "rs", "rs-secret-0123456789")
	if r.Status != http.StatusOK {
		t.Fatalf("introspect: %d %s", r.Status, r.Raw)
	}
	return r
}

// ---------------------------------------------------------------------------
// A person's browser, without JavaScript: a cookie jar and forms.

type devBrowser struct {
	t    testing.TB
	base string
	c    *http.Client
	// header is sent with every request (nil: Go's defaults).
	header http.Header
}

func newDevBrowser(t testing.TB, base string) *devBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &devBrowser{t: t, base: base, c: noRedirectClient(jar)}
}

type devPage struct {
	Status   int
	Body     string
	Location string
}

func (b *devBrowser) do(method, u string, form url.Values) devPage {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.base + u
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return devPage{Status: resp.StatusCode, Body: string(raw), Location: resp.Header.Get("Location")}
}

func (b *devBrowser) get(u string) devPage { b.t.Helper(); return b.do(http.MethodGet, u, nil) }

// formFields returns the CSRF token and hidden fields of the page's forms.
func formFields(t testing.TB, p devPage) url.Values {
	t.Helper()
	v := url.Values{}
	for _, f := range parseForms(t, p.Body) {
		for _, in := range f.Fields {
			if in.Input && in.Type == "hidden" || in.Name == "csrf_token" && v.Get("csrf_token") == "" {
				v.Set(in.Name, in.Value)
			}
		}
	}
	if v.Get("csrf_token") == "" {
		t.Fatalf("no CSRF token on page (%d):\n%s", p.Status, p.Body)
	}
	return v
}

// signIn submits the sign-in page p and follows the redirect to next.
func (b *devBrowser) signIn(p devPage) devPage {
	b.t.Helper()
	if !strings.Contains(p.Body, `action="/login"`) {
		b.t.Fatalf("expected the sign-in page, got %d:\n%s", p.Status, p.Body)
	}
	form := formFields(b.t, p)
	form.Set("username", devUser)
	form.Set("password", devPassword)
	r := b.do(http.MethodPost, "/login", form)
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/device") {
		b.t.Fatalf("sign-in: %d to %q:\n%s", r.Status, r.Location, r.Body)
	}
	return b.get(r.Location)
}

// decide submits the confirmation page p with decision approve or deny.
func (b *devBrowser) decide(p devPage, decision string) devPage {
	b.t.Helper()
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="approve"`) {
		b.t.Fatalf("expected the confirmation page, got %d:\n%s", p.Status, p.Body)
	}
	form := formFields(b.t, p)
	form.Set("decision", decision)
	return b.do(http.MethodPost, "/device", form)
}

// ---------------------------------------------------------------------------

func TestDeviceFlowE2E(t *testing.T) {
	f := newDevFixture(t)
	ctx := context.Background()

	// The TV (a public client) starts, and polls before anyone approved:
	// pending, then slow_down for polling faster than the interval.
	d := f.startDevice(t, "tv", "", devScopes)
	if d.ExpiresIn != 600 {
		t.Errorf("expires_in = %d, want 600 (the default)", d.ExpiresIn)
	}
	wantDevError(t, f.poll(t, "tv", "", d.DeviceCode), 400, "authorization_pending")
	wantDevError(t, f.poll(t, "tv", "", d.DeviceCode), 400, "slow_down")
	wantDevError(t, f.poll(t, "tv", "", d.DeviceCode), 400, "slow_down")

	// Another client cannot redeem the TV's code; garbage is invalid_grant.
	wantDevError(t, f.poll(t, "console", "console-secret-0123456789", d.DeviceCode), 400, "invalid_grant")
	wantDevError(t, f.poll(t, "tv", "", d.DeviceCode+"x"), 400, "invalid_grant")
	wantDevError(t, f.poll(t, "tv", "", "authd_dc_nope"), 400, "invalid_grant")
	wantDevError(t, devPost(t, f.srv.URL+"/oauth2/token", url.Values{"grant_type": {storage.DeviceCodeGrantType}, "client_id": {"tv"}}), 400, "invalid_request")

	// The person opens verification_uri_complete, signs in, sees the app
	// and its scopes, approves.
	b := newDevBrowser(t, f.srv.URL)
	p := b.signIn(b.get(d.VerificationURIComplete))
	for _, want := range []string{"Living Room TV", d.UserCode, "offline_access", "openid"} {
		if !strings.Contains(p.Body, want) {
			t.Fatalf("confirmation page lacks %q:\n%s", want, p.Body)
		}
	}
	done := b.decide(p, "approve")
	if done.Status != http.StatusOK || !strings.Contains(done.Body, "Device connected") {
		t.Fatalf("approve: %d\n%s", done.Status, done.Body)
	}
	// The code cannot be approved (or denied) again.
	if again := b.get(d.VerificationURIComplete); again.Status != http.StatusConflict {
		t.Fatalf("reusing an approved code: %d\n%s", again.Status, again.Body)
	}

	// The next poll gets tokens: access, refresh (offline_access and the
	// refresh_token grant) and an ID token (openid).
	tok := f.poll(t, "tv", "", d.DeviceCode)
	if tok.Status != 200 || tok.str("access_token") == "" || tok.str("refresh_token") == "" || tok.str("id_token") == "" ||
		!strings.EqualFold(tok.str("token_type"), "bearer") {
		t.Fatalf("token response: %d %s", tok.Status, tok.Raw)
	}
	if got := strings.Fields(tok.str("scope")); len(got) != 3 {
		t.Errorf("scope = %q, want %q", tok.str("scope"), devScopes)
	}
	// Redeeming the device code twice fails.
	wantDevError(t, f.poll(t, "tv", "", d.DeviceCode), 400, "invalid_grant")

	claims := jwtClaims(t, tok.str("id_token"))
	if claims["sub"] != f.subject || claims["iss"] != f.srv.URL || claims["at_hash"] == nil || !audHas(claims["aud"], "tv") {
		t.Errorf("ID token claims: %v", claims)
	}

	in := f.introspect(t, tok.str("access_token"))
	if in.JSON["active"] != true || in.str("sub") != f.subject || in.str("client_id") != "tv" {
		t.Fatalf("introspection: %s", in.Raw)
	}

	// The refresh token works (and rotates); the old access token dies.
	rt := devPost(t, f.srv.URL+"/oauth2/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}, "client_id": {"tv"},
	})
	if rt.Status != 200 || rt.str("access_token") == "" || rt.str("refresh_token") == "" || rt.str("refresh_token") == tok.str("refresh_token") {
		t.Fatalf("refresh: %d %s", rt.Status, rt.Raw)
	}
	if in := f.introspect(t, rt.str("access_token")); in.JSON["active"] != true || in.str("sub") != f.subject {
		t.Fatalf("introspect refreshed token: %s", in.Raw)
	}
	if in := f.introspect(t, tok.str("access_token")); in.JSON["active"] != false {
		t.Fatalf("the rotated-away access token is still active: %s", in.Raw)
	}

	// The grant is recorded with flow device_code.
	gs, err := f.liveGrantRows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].Flow != "device_code" || gs[0].ClientID != "tv" {
		t.Fatalf("grants: %+v", gs)
	}

	// A confidential client; the person types the code lower case without
	// the dash on the entry page (already signed in in this browser).
	d2 := f.startDevice(t, "console", "console-secret-0123456789", "openid profile")
	entry := b.get("/device")
	if entry.Status != 200 || !strings.Contains(entry.Body, `name="user_code"`) {
		t.Fatalf("entry page: %d\n%s", entry.Status, entry.Body)
	}
	typed := strings.ToLower(strings.ReplaceAll(d2.UserCode, "-", ""))
	p = b.get("/device?user_code=" + typed)
	if !strings.Contains(p.Body, "Game Console") || !strings.Contains(p.Body, d2.UserCode) {
		t.Fatalf("confirmation page for a typed code:\n%s", p.Body)
	}
	if done := b.decide(p, "approve"); done.Status != 200 {
		t.Fatalf("approve: %d\n%s", done.Status, done.Body)
	}
	tok2 := f.poll(t, "console", "console-secret-0123456789", d2.DeviceCode)
	if tok2.Status != 200 || tok2.str("access_token") == "" || tok2.str("id_token") == "" {
		t.Fatalf("console token: %d %s", tok2.Status, tok2.Raw)
	}
	if tok2.str("refresh_token") != "" {
		t.Errorf("a client without the refresh_token grant got a refresh token")
	}
	if in := f.introspect(t, tok2.str("access_token")); in.JSON["active"] != true || in.str("client_id") != "console" {
		t.Fatalf("introspect console token: %s", in.Raw)
	}
	// The console must authenticate: polling without its secret fails.
	wantDevError(t, f.poll(t, "console", "wrong-secret-0123456789", d2.DeviceCode), 401, "invalid_client")

	// Denial.
	d3 := f.startDevice(t, "tv", "", "openid")
	p = b.get(d3.VerificationURIComplete)
	if denied := b.decide(p, "deny"); denied.Status != 200 || !strings.Contains(denied.Body, "denied") {
		t.Fatalf("deny: %d\n%s", denied.Status, denied.Body)
	}
	wantDevError(t, f.poll(t, "tv", "", d3.DeviceCode), 400, "access_denied")
	wantDevError(t, f.poll(t, "tv", "", d3.DeviceCode), 400, "access_denied")
}

func TestDeviceAuthorizationErrors(t *testing.T) {
	f := newDevFixture(t)
	u := f.srv.URL + "/oauth2/device/auth"
	wantDevError(t, devPost(t, u, url.Values{"client_id": {"tv"}, "scope": {"openid admin"}}), 400, "invalid_scope")
	wantDevError(t, devPost(t, u, url.Values{"client_id": {"webapp"}, "scope": {"openid"}}), 400, "unauthorized_client")
	wantDevError(t, devPost(t, u, url.Values{"client_id": {"nobody"}}), 401, "invalid_client")
	wantDevError(t, devPost(t, u, url.Values{"scope": {"openid"}}, "console", "not-the-secret-0123"), 401, "invalid_client")
	wantDevError(t, devPost(t, u, url.Values{"client_id": {"tv"}, "scope": {"a", "b"}}), 400, "invalid_request")
	// A client that may not use the device grant cannot redeem at the token endpoint either.
	d := f.startDevice(t, "tv", "", "openid")
	wantDevError(t, f.poll(t, "webapp", "", d.DeviceCode), 400, "unauthorized_client")
	// Polling without identifying the client at all is refused (fosite:
	// invalid_request, "client credentials missing").
	wantDevError(t, devPost(t, f.srv.URL+"/oauth2/token", url.Values{"grant_type": {storage.DeviceCodeGrantType}, "device_code": {d.DeviceCode}}), 400, "invalid_request")
	// GET is not how devices ask for codes.
	if resp, err := http.Get(u); err != nil || resp.StatusCode == http.StatusOK {
		t.Fatalf("GET %s: %v %v", u, resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestDeviceFlowExpiry(t *testing.T) {
	f := newDevFixture(t, func(c *Config) { c.DeviceCodeTTL = 2 * time.Second })
	d := f.startDevice(t, "tv", "", "openid")
	if d.ExpiresIn != 2 {
		t.Fatalf("expires_in = %d, want 2", d.ExpiresIn)
	}
	wantDevError(t, f.poll(t, "tv", "", d.DeviceCode), 400, "authorization_pending")
	time.Sleep(2200 * time.Millisecond)
	wantDevError(t, f.poll(t, "tv", "", d.DeviceCode), 400, "expired_token")
	// The user code is gone too.
	b := newDevBrowser(t, f.srv.URL)
	p := b.signIn(b.get(d.VerificationURIComplete))
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "not valid or has expired") {
		t.Fatalf("expired code on the page: %d\n%s", p.Status, p.Body)
	}
}

func TestDeviceFlowConcurrentRedeem(t *testing.T) {
	f := newDevFixture(t)
	d := f.startDevice(t, "tv", "", devScopes)
	b := newDevBrowser(t, f.srv.URL)
	b.decide(b.signIn(b.get(d.VerificationURIComplete)), "approve")

	const n = 10
	results := make([]apiResp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results[i] = f.poll(t, "tv", "", d.DeviceCode)
		}(i)
	}
	close(start)
	wg.Wait()
	won := 0
	for _, r := range results {
		switch {
		case r.Status == 200 && r.str("access_token") != "":
			won++
		case r.Status == 400 && r.str("error") == "invalid_grant":
		default:
			t.Errorf("unexpected poll result %d %s", r.Status, r.Raw)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent polls got tokens, want exactly 1", won, n)
	}
	gs, err := f.liveGrantRows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].Flow != "device_code" {
		t.Fatalf("grants after concurrent redemption: %+v", gs)
	}
}

func TestDeviceVerificationThrottle(t *testing.T) {
	f := newDevFixture(t)
	d := f.startDevice(t, "tv", "", "openid")
	b := newDevBrowser(t, f.srv.URL)
	p := b.signIn(b.get("/device"))
	if p.Status != 200 || !strings.Contains(p.Body, `name="user_code"`) {
		t.Fatalf("entry page after sign-in: %d\n%s", p.Status, p.Body)
	}
	for i := 1; i <= 10; i++ {
		p = b.get("/device?user_code=BBBB-BBB" + string("BCDFGHJKLM"[i-1]))
		want := http.StatusBadRequest
		if i == 10 {
			want = http.StatusTooManyRequests
		}
		if p.Status != want {
			t.Fatalf("wrong guess %d: %d, want %d\n%s", i, p.Status, want, p.Body)
		}
	}
	if !strings.Contains(p.Body, "Too many wrong codes") {
		t.Fatalf("throttled page lacks the explanation:\n%s", p.Body)
	}
	// Even the right code is refused now, from this session and this IP.
	if p = b.get(d.VerificationURIComplete); p.Status != http.StatusTooManyRequests {
		t.Fatalf("right code while throttled: %d", p.Status)
	}
	other := newDevBrowser(t, f.srv.URL)
	if p = other.signIn(other.get(d.VerificationURIComplete)); p.Status != http.StatusTooManyRequests {
		t.Fatalf("right code from another session on the same IP: %d", p.Status)
	}
	wantDevError(t, f.poll(t, "tv", "", d.DeviceCode), 400, "authorization_pending")
}

func TestDeviceVerificationNeedsCSRF(t *testing.T) {
	f := newDevFixture(t)
	d := f.startDevice(t, "tv", "", "openid")
	b := newDevBrowser(t, f.srv.URL)
	p := b.signIn(b.get(d.VerificationURIComplete))
	form := formFields(t, p)
	form.Set("decision", "approve")
	form.Set("csrf_token", "forged")
	if r := b.do(http.MethodPost, "/device", form); r.Status != http.StatusForbidden {
		t.Fatalf("approve with a forged CSRF token: %d", r.Status)
	}
	wantDevError(t, f.poll(t, "tv", "", d.DeviceCode), 400, "authorization_pending")
}

func jwtClaims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func audHas(aud any, id string) bool {
	switch a := aud.(type) {
	case string:
		return a == id
	case []any:
		for _, x := range a {
			if x == id {
				return true
			}
		}
	}
	return false
}

// TestDeviceFlowLeavesNoImmortalKeys: every Redis key the device flow writes
// (device state, user code, counters, the grant's tokens) carries a TTL.
func TestDeviceFlowLeavesNoImmortalKeys(t *testing.T) {
	f := newDevFixture(t)
	ctx := context.Background()
	for _, scope := range []string{devScopes, "openid"} { // with and without a refresh token
		d := f.startDevice(t, "tv", "", scope)
		b := newDevBrowser(t, f.srv.URL)
		b.get("/device?user_code=BBBB-BBBB") // a failed guess: counters
		b.decide(b.signIn(b.get(d.VerificationURIComplete)), "approve")
		if r := f.poll(t, "tv", "", d.DeviceCode); r.Status != 200 {
			t.Fatalf("poll: %d %s", r.Status, r.Raw)
		}
	}
	rdb, prefix := f.srv.App.RDB, f.srv.App.Config.RedisPrefix
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys under the test prefix")
	}
	for _, k := range keys {
		if ttl, err := rdb.PTTL(ctx, k).Result(); err != nil || ttl < 0 {
			t.Errorf("key %s has no TTL (%v, %v)", k, ttl, err)
		}
	}
}

// TestDeviceFlowXOAuth2: golang.org/x/oauth2's RFC 8628 client, pointed at
// the endpoints discovery advertises, completes the flow (it waits the
// interval before its first poll).
func TestDeviceFlowXOAuth2(t *testing.T) {
	f := newDevFixture(t)
	var disc struct {
		DeviceEndpoint string   `json:"device_authorization_endpoint"`
		TokenEndpoint  string   `json:"token_endpoint"`
		GrantTypes     []string `json:"grant_types_supported"`
	}
	resp, err := http.Get(f.srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if disc.DeviceEndpoint != f.srv.URL+"/oauth2/device/auth" || !slices.Contains(disc.GrantTypes, storage.DeviceCodeGrantType) {
		t.Fatalf("discovery does not advertise the device flow: %+v", disc)
	}
	cfg := &oauth2.Config{
		ClientID: "tv", Scopes: strings.Fields(devScopes),
		Endpoint: oauth2.Endpoint{DeviceAuthURL: disc.DeviceEndpoint, TokenURL: disc.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if da.UserCode == "" || da.VerificationURIComplete == "" || da.Interval != 5 || time.Until(da.Expiry) < 9*time.Minute {
		t.Fatalf("device auth response %+v", da)
	}
	// Approve before x/oauth2 polls (it waits the interval first).
	b := newDevBrowser(t, f.srv.URL)
	b.decide(b.signIn(b.get(da.VerificationURIComplete)), "approve")
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Extra("id_token") == nil || !tok.Valid() {
		t.Fatalf("token %+v", tok)
	}
	// The refresh token works through x/oauth2's TokenSource too.
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, tok).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh through x/oauth2: %v", err)
	}
}

// TestDeviceRedisUnavailable: with Redis down, the device endpoints answer
// 503 temporarily_unavailable promptly, never 500.
func TestDeviceRedisUnavailable(t *testing.T) {
	f := newDevFixture(t, func(c *Config) { c.RedisURL = "redis://127.0.0.1:1/1" })
	start := time.Now()
	r := devPost(t, f.srv.URL+"/oauth2/device/auth", url.Values{"client_id": {"tv"}, "scope": {"openid"}})
	wantDevError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")

	// A device code with a valid MAC, so that authd has to ask Redis.
	strategy, err := token.New(f.srv.App.Config.Secret)
	if err != nil {
		t.Fatal(err)
	}
	dc, _, err := strategy.GenerateDeviceCode(uuid.NewString())
	if err != nil {
		t.Fatal(err)
	}
	wantDevError(t, f.poll(t, "tv", "", dc), http.StatusServiceUnavailable, "temporarily_unavailable")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answers took %v with Redis down", d)
	}
}

// liveGrantRows is the subject's grant rows that are neither revoked nor
// expired.
func (f *devFixture) liveGrantRows(ctx context.Context) ([]storage.Grant, error) {
	gs, err := f.srv.DB.ListGrants(ctx, f.subject)
	return slices.DeleteFunc(gs, func(g storage.Grant) bool {
		return g.RevokedAt != nil || !g.ExpiresAt.After(time.Now())
	}), err
}
