package main

// Browser-facing hardening: security headers on every page, the session
// cookie's attributes, and logs that never contain a secret.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// checkPageHeaders asserts the headers every HTML page must carry.
func checkPageHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	if csp == "" {
		t.Errorf("%s: no Content-Security-Policy", what)
		return
	}
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	scripts, ok := directives["script-src"]
	if !ok {
		scripts = directives["default-src"]
	}
	if scripts == "" || strings.Contains(scripts, "'unsafe-inline'") || strings.Contains(scripts, "'unsafe-eval'") || strings.Contains(scripts, "*") {
		t.Errorf("%s: CSP allows scripts too widely (script source %q): %s", what, scripts, csp)
	}
	if directives["frame-ancestors"] != "'none'" {
		t.Errorf("%s: CSP frame-ancestors %q, want 'none': %s", what, directives["frame-ancestors"], csp)
	}
	if got := h.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options %q", what, got)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", what, got)
	}
	if got := h.Get("Referrer-Policy"); got == "" || got == "unsafe-url" {
		t.Errorf("%s: Referrer-Policy %q", what, got)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if cc := h.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
	}
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	e := newE2E(t)
	b := e.newBrowser()
	cfg := e.pubConfig()
	authURL := cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))

	login := b.get(authURL)
	checkPageHeaders(t, "sign-in page (authorization request)", login.Header)
	if !strings.Contains(login.Body, `name="password"`) {
		t.Fatalf("not the sign-in page: %.300s", login.Body)
	}
	checkPageHeaders(t, "sign-in page (/login)", e.newBrowser().get(e.srv.URL+"/login").Header)

	// Wrong password: the sign-in page again, with an error.
	f := onlyForm(t, login)
	bad := b.post(e.srv.URL+"/login", url.Values{"username": {e2eUser}, "password": {"wrong"}, "next": {f.Inputs["next"]}, "csrf_token": {csrfToken(t, f)}})
	checkPageHeaders(t, "sign-in page with an error", bad.Header)

	next := b.login(b.get(authURL))
	consent := b.get(next.String())
	if _, ok := onlyForm(t, consent).Inputs["consent"]; !ok {
		t.Fatalf("not the consent page: %.300s", consent.Body)
	}
	checkPageHeaders(t, "consent page", consent.Header)
	checkPageHeaders(t, "signed-in page", b.get(e.srv.URL+"/login").Header)

	errPage := b.get(e.srv.URL + "/oauth2/auth?" + url.Values{"client_id": {e2ePubID}, "redirect_uri": {"https://evil.example/"}, "response_type": {"code"}}.Encode())
	if errPage.Status != http.StatusBadRequest {
		t.Fatalf("error page: %d", errPage.Status)
	}
	checkPageHeaders(t, "error page", errPage.Header)
	// A form without its CSRF token: the "form expired" page.
	csrfPage := b.post(e.srv.URL+"/login", url.Values{"username": {e2eUser}, "password": {e2ePassword}})
	if csrfPage.Status != http.StatusForbidden {
		t.Errorf("POST /login without a CSRF token: %d", csrfPage.Status)
	}
	checkPageHeaders(t, "CSRF error page", csrfPage.Header)

	for _, p := range []page{login, consent, errPage} {
		if strings.Contains(strings.ToLower(p.Body), "<script") {
			t.Errorf("page %s has a script element", p.URL)
		}
	}
	// JSON endpoints carry the same headers (a browser could be pointed at them).
	r := e.call(http.MethodGet, "/.well-known/openid-configuration", "", "")
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("discovery headers: %v", r.Header)
	}
}

// sessionCookie signs in through handler h (no network: the issuer may be
// https) and returns the Set-Cookie headers of the sign-in response.
func signInDirect(t *testing.T, h http.Handler, base string) []*http.Cookie {
	t.Helper()
	get := httptest.NewRequest(http.MethodGet, base+"/login", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, get)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /login: %d", rec.Code)
	}
	checkPageHeaders(t, "sign-in page ("+base+")", rec.Header())
	f := onlyForm(t, page{Status: rec.Code, Body: rec.Body.String()})
	body := url.Values{"username": {e2eUser}, "password": {e2ePassword}, "next": {"/login"}, "csrf_token": {csrfToken(t, f)}}
	post := httptest.NewRequest(http.MethodPost, base+"/login", strings.NewReader(body.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.Header.Set("Origin", base)
	post.Header.Set("Referer", base+"/login")
	for _, c := range rec.Result().Cookies() {
		post.AddCookie(c)
	}
	rec2 := httptest.NewRecorder()
	h.ServeHTTP(rec2, post)
	if rec2.Code != http.StatusSeeOther {
		t.Fatalf("POST /login (%s): %d %.300s", base, rec2.Code, rec2.Body.String())
	}
	return append(rec.Result().Cookies(), rec2.Result().Cookies()...)
}

func TestSessionCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		issuer string
		secure bool
	}{
		{"", false}, // the test server's http://127.0.0.1 issuer
		{"https://authd.example", true},
	} {
		name := "http"
		if tc.secure {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			e := newE2E(t, func(c *Config) {
				if tc.issuer != "" {
					c.Issuer = tc.issuer
				}
			})
			base := e.srv.App.Config.Issuer
			cookies := signInDirect(t, e.srv.App.Handler, base)
			seen := map[string]bool{}
			for _, c := range cookies {
				name := strings.TrimPrefix(c.Name, "__Host-") // https: TestHostPrefixedCookies
				if name != "authd_session" && name != "authd_csrf" {
					continue
				}
				seen[name] = true
				if !c.HttpOnly {
					t.Errorf("%s: not HttpOnly", c.Name)
				}
				if c.SameSite != http.SameSiteLaxMode {
					t.Errorf("%s: SameSite %v, want Lax", c.Name, c.SameSite)
				}
				if c.Secure != tc.secure {
					t.Errorf("%s: Secure %v with issuer %s", c.Name, c.Secure, base)
				}
				if c.Path != "/" {
					t.Errorf("%s: Path %q", c.Name, c.Path)
				}
			}
			if !seen["authd_session"] || !seen["authd_csrf"] {
				t.Errorf("cookies set: %v", cookies)
			}
			rec := httptest.NewRecorder()
			e.srv.App.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, base+"/login", nil))
			if hsts := rec.Header().Get("Strict-Transport-Security"); (hsts != "") != tc.secure {
				t.Errorf("Strict-Transport-Security %q with issuer %s", hsts, base)
			}
		})
	}
}

// startServerLogging is startServer with authd's logs (debug level) written
// to w and a known AUTHD_SECRET to search the logs for.
func startServerLogging(t *testing.T, w io.Writer) *testServer {
	t.Helper()
	return startServerLog(t, w, func(c *Config) { c.Secret = []byte(logTestSecret) })
}

const logTestSecret = "log-test-secret-7f3a9c1e5b2d8046aa91c3e7f5b2d804"

// TestLogsNeverContainSecrets drives a whole flow (sign-in with a password,
// code exchange with a client secret, refresh, introspection, revocation,
// and failures of each) with debug logging, then searches the logs for
// every secret that went over the wire.
func TestLogsNeverContainSecrets(t *testing.T) {
	var logs lockedBuffer
	srv := startServerLogging(t, &logs)
	e := &e2e{t: t, srv: srv, ctx: context.Background(), hc: noRedirectClient(nil)}
	e.sub = srv.addUser(t, e2eUser, e2ePassword)
	addStdClients(t, srv)

	secrets := map[string]string{
		"password": e2ePassword, "client secret": e2eConfSecret, "resource server secret": e2eRSSecret,
		"AUTHD_SECRET": logTestSecret, "wrong password": "wrong-password-5d1c9e", "wrong secret": "wrong-secret-8b2f4a",
	}
	// A failed sign-in, then the real one, through the consent page.
	b := e.newBrowser()
	cfg := e.confConfig("openid", "profile", "offline_access")
	state := randString(t)
	login := b.get(cfg.AuthCodeURL(state))
	f := onlyForm(t, login)
	b.post(e.srv.URL+"/login", url.Values{"username": {e2eUser}, "password": {secrets["wrong password"]}, "next": {f.Inputs["next"]}, "csrf_token": {csrfToken(t, f)}})
	q := b.authorize(cfg.AuthCodeURL(state))
	code := q.Get("code")
	secrets["authorization code"] = code
	for _, c := range b.hc.Jar.Cookies(mustURL(t, e.srv.URL)) {
		secrets["cookie "+c.Name] = c.Value
	}

	// Failed client authentication, then the exchange with the secret.
	e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e2eRedirect}}, e2eConfID+":"+secrets["wrong secret"])
	r := e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e2eRedirect}}, confBasic)
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %v", r)
	}
	secrets["access token"], secrets["refresh token"], secrets["ID token"] = r.str("access_token"), r.str("refresh_token"), r.str("id_token")
	// A replayed code (logs the reuse), and a refresh.
	e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e2eRedirect}}, confBasic)
	code2 := e.confCode(b, "openid", "offline_access")
	secrets["second code"] = code2
	r = e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code2}, "redirect_uri": {e2eRedirect}, "client_id": {e2eConfID}, "client_secret": {e2eConfSecret}})
	if r.Status != http.StatusOK {
		t.Fatalf("exchange (client_secret_post): %v", r)
	}
	secrets["access token 2"], secrets["refresh token 2"] = r.str("access_token"), r.str("refresh_token")
	r2 := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, confBasic)
	if r2.Status != http.StatusOK {
		t.Fatalf("refresh: %v", r2)
	}
	secrets["refreshed access token"], secrets["refreshed refresh token"] = r2.str("access_token"), r2.str("refresh_token")
	// Reuse of the rotated refresh token (revokes the family: logged).
	e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, confBasic)

	// Introspection with the resource server's secret, and a failed one.
	if ir := e.post("/oauth2/introspect", url.Values{"token": {secrets["refreshed access token"]}}, rsBasic); ir.Status != http.StatusOK {
		t.Errorf("introspection: %v", ir)
	}
	e.post("/oauth2/introspect", url.Values{"token": {secrets["access token"]}}, e2eRSID+":"+secrets["wrong secret"])
	// userinfo with a bearer token, revocation, client credentials.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+secrets["access token"])
	if resp, err := e.hc.Do(req); err == nil {
		resp.Body.Close()
	}
	if rr := e.post("/oauth2/revoke", url.Values{"token": {secrets["refresh token"]}}, confBasic); rr.Status != http.StatusOK {
		t.Errorf("revocation: %v", rr)
	}
	cc := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, confBasic)
	secrets["client_credentials token"] = cc.str("access_token")
	// A request for a page with a secret-looking query (it must not be
	// logged with its query either).
	b.get(e.srv.URL + "/login?next=" + url.QueryEscape("/oauth2/auth?code="+code))

	out := logs.String()
	if !strings.Contains(out, `"level":"DEBUG"`) || strings.Count(out, "\n") < 10 {
		t.Fatalf("the logs look empty (%d lines); the test would prove nothing:\n%s", strings.Count(out, "\n"), out)
	}
	for what, s := range secrets {
		if s == "" {
			t.Errorf("%s: empty (the flow did not produce it)", what)
			continue
		}
		if strings.Contains(out, s) || len(s) > 16 && strings.Contains(out, s[len(s)-16:]) {
			t.Errorf("the logs contain the %s", what)
		}
	}
	// Every line is JSON (no stray fmt output from a dependency).
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %.200s", line)
		}
	}
	t.Logf("%d log lines checked for %d secrets", strings.Count(out, "\n"), len(secrets))
	if testing.Verbose() && os.Getenv("AUTHD_TEST_LOG") != "" {
		t.Log(out)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
