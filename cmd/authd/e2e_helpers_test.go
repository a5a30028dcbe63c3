package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

// Fixed identities registered by newE2E.
const (
	e2eUser     = "alice"
	e2ePassword = "correct horse battery staple"

	e2eConfID     = "webapp" // confidential: code, refresh, client_credentials
	e2eConfSecret = "webapp-secret-0123456789abcdef"
	e2ePubID      = "cli"      // public (PKCE): code, refresh
	e2eRSID       = "resource" // resource server: client_credentials + Introspect
	e2eRSSecret   = "resource-secret-0123456789abcdef"

	e2eRedirect = "http://127.0.0.1:53682/callback"
)

// e2e is one running authd with the standard clients and user registered.
type e2e struct {
	t   testing.TB
	srv *testServer
	ctx context.Context
	sub string
	// hc is a plain client (no redirects followed, no cookie jar) for the
	// protocol endpoints.
	hc *http.Client
}

// newE2E starts authd and registers: a user, a confidential client, a public
// PKCE client and an introspecting resource server.
func newE2E(t testing.TB, cfgFn ...func(*Config)) *e2e {
	t.Helper()
	return newE2ELog(t, nil, cfgFn...)
}

// newE2ELog is newE2E with authd's logs written to logw (startServerLog).
func newE2ELog(t testing.TB, logw io.Writer, cfgFn ...func(*Config)) *e2e {
	t.Helper()
	srv := startServerLog(t, logw, cfgFn...)
	e := &e2e{t: t, srv: srv, ctx: context.Background(), hc: noRedirectClient(nil)}
	e.sub = srv.addUser(t, e2eUser, e2ePassword)
	srv.addClient(t, storage.Client{
		ID: e2eConfID, Name: "Web App", RedirectURIs: []string{e2eRedirect},
		GrantTypes:    []string{"authorization_code", "refresh_token", "client_credentials"},
		ResponseTypes: []string{"code"},
		Scopes:        []string{"openid", "profile", "offline_access", "api:read"},
	}, e2eConfSecret)
	srv.addClient(t, storage.Client{
		ID: e2ePubID, Name: "CLI", RedirectURIs: []string{e2eRedirect},
		GrantTypes:    []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"},
		Scopes:        []string{"openid", "profile", "offline_access"},
	}, "")
	srv.addClient(t, storage.Client{
		ID: e2eRSID, Name: "Resource Server", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"api:read"}, Introspect: true,
	}, e2eRSSecret)
	return e
}

// endpoint is authd's token/auth endpoint for x/oauth2.
func (e *e2e) endpoint(style oauth2.AuthStyle) oauth2.Endpoint {
	return oauth2.Endpoint{
		AuthURL: e.srv.URL + "/oauth2/auth", TokenURL: e.srv.URL + "/oauth2/token", AuthStyle: style,
	}
}

// pubConfig is the public client's x/oauth2 config.
func (e *e2e) pubConfig(scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "offline_access"}
	}
	return &oauth2.Config{ClientID: e2ePubID, Endpoint: e.endpoint(oauth2.AuthStyleInParams), RedirectURL: e2eRedirect, Scopes: scopes}
}

// confConfig is the confidential client's x/oauth2 config (HTTP Basic).
func (e *e2e) confConfig(scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "offline_access"}
	}
	return &oauth2.Config{ClientID: e2eConfID, ClientSecret: e2eConfSecret, Endpoint: e.endpoint(oauth2.AuthStyleInHeader), RedirectURL: e2eRedirect, Scopes: scopes}
}

// oauthCtx makes x/oauth2 use a client with a timeout.
func (e *e2e) oauthCtx() context.Context {
	return context.WithValue(e.ctx, oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second})
}

// provider discovers authd as an OpenID Provider (go-oidc), over the
// oauthCtx client.
func (e *e2e) provider() *oidc.Provider {
	e.t.Helper()
	p, err := oidc.NewProvider(e.oauthCtx(), e.srv.URL)
	if err != nil {
		e.t.Fatalf("oidc.NewProvider: %v", err)
	}
	return p
}

func randString(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// browser is a cookie-jar client that does not follow redirects: the test
// plays the user agent step by step.
type browser struct {
	t  testing.TB
	e  *e2e
	hc *http.Client
	// header is sent with every request (a User-Agent, a proxy's
	// X-Forwarded-For); nil: Go's defaults.
	header http.Header
}

func (e *e2e) newBrowser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{t: e.t, e: e, hc: noRedirectClient(jar)}
}

// page is a fetched response with its body read.
type page struct {
	Status int
	Header http.Header
	Body   string
	URL    *url.URL
}

func (p page) location(t testing.TB) *url.URL {
	t.Helper()
	loc := p.Header.Get("Location")
	if loc == "" {
		t.Fatalf("response %d has no Location; body: %.500s", p.Status, p.Body)
	}
	u, err := p.URL.Parse(loc)
	if err != nil {
		t.Fatalf("bad Location %q: %v", loc, err)
	}
	return u
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(body), URL: req.URL}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// Browsers send Origin on a form POST; gorilla/csrf checks it against
	// the Host.
	req.Header.Set("Origin", b.e.srv.URL)
	return b.do(req)
}

// htmlForm is a parsed <form>: its action, every named input's (or
// button's) first value, and all of its named fields in document order.
type htmlForm struct {
	Action string
	Inputs map[string]string
	Fields []formField
}

// formField is a named <input> or <button> of a form.
type formField struct {
	Name, Value, Type string
	Input, HasValue   bool // an <input> (not a button); with a value attribute
}

// parseForms returns every form in an HTML document.
func parseForms(t testing.TB, body string) []htmlForm {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse html: %v", err)
	}
	var forms []htmlForm
	var cur *htmlForm
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := func(k string) (string, bool) {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val, true
					}
				}
				return "", false
			}
			switch n.Data {
			case "form":
				action, _ := attr("action")
				forms = append(forms, htmlForm{Action: action, Inputs: map[string]string{}})
				cur = &forms[len(forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "input", "button":
				if name, ok := attr("name"); ok && cur != nil {
					v, hasValue := attr("value")
					if _, dup := cur.Inputs[name]; !dup {
						cur.Inputs[name] = v
					}
					typ, _ := attr("type")
					cur.Fields = append(cur.Fields, formField{Name: name, Value: v, Type: typ, Input: n.Data == "input", HasValue: hasValue})
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return forms
}

// onlyForm returns the page's single form.
func onlyForm(t testing.TB, p page) htmlForm {
	t.Helper()
	fs := parseForms(t, p.Body)
	if len(fs) != 1 {
		t.Fatalf("want exactly one form, got %d; body: %.1000s", len(fs), p.Body)
	}
	return fs[0]
}

// csrfToken returns the form's csrf_token, failing the test if there is none.
func csrfToken(t testing.TB, f htmlForm) string {
	t.Helper()
	tok, ok := f.Inputs["csrf_token"]
	if !ok || tok == "" {
		t.Fatalf("form (action %q) has no csrf_token hidden input; inputs: %v", f.Action, inputNames(f.Inputs))
	}
	return tok
}

func inputNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// login expects p to be the sign-in page and signs in; it returns the 303's
// target.
func (b *browser) login(p page) *url.URL {
	b.t.Helper()
	if p.Status != http.StatusOK {
		b.t.Fatalf("login page: status %d, body %.500s", p.Status, p.Body)
	}
	f := onlyForm(b.t, p)
	for _, in := range []string{"username", "password", "next"} {
		if _, ok := f.Inputs[in]; !ok {
			b.t.Fatalf("login form lacks input %q; inputs: %v", in, inputNames(f.Inputs))
		}
	}
	if f.Action != "/login" {
		b.t.Fatalf("login form posts to %q, want /login", f.Action)
	}
	resp := b.post(b.e.srv.URL+"/login", url.Values{
		"username": {e2eUser}, "password": {e2ePassword}, "next": {f.Inputs["next"]}, "csrf_token": {csrfToken(b.t, f)},
	})
	if resp.Status != http.StatusSeeOther {
		b.t.Fatalf("POST /login: status %d, want 303; body %.500s", resp.Status, resp.Body)
	}
	return resp.location(b.t)
}

// consent expects p to be the consent page and posts decision (allow|deny);
// it returns the 303's target.
func (b *browser) consent(p page, decision string) *url.URL {
	b.t.Helper()
	resp := b.consentPage(p, decision)
	if resp.Status != http.StatusSeeOther && resp.Status != http.StatusFound {
		b.t.Fatalf("POST consent: status %d, want 303; body %.500s", resp.Status, resp.Body)
	}
	return resp.location(b.t)
}

// consentPage expects p to be the consent page, posts decision and returns
// authd's answer (a redirect, or a form_post page).
func (b *browser) consentPage(p page, decision string) page {
	b.t.Helper()
	if p.Status != http.StatusOK {
		b.t.Fatalf("consent page: status %d, body %.500s", p.Status, p.Body)
	}
	f := onlyForm(b.t, p)
	if _, ok := f.Inputs["consent"]; !ok {
		b.t.Fatalf("consent form has no consent button; inputs %v", inputNames(f.Inputs))
	}
	action, err := p.URL.Parse(f.Action)
	if err != nil {
		b.t.Fatal(err)
	}
	if action.Path != "/oauth2/auth/decision" {
		b.t.Fatalf("consent form posts to %q", f.Action)
	}
	return b.post(action.String(), url.Values{"consent": {decision}, "csrf_token": {csrfToken(b.t, f)}})
}

// callback checks u is the redirect URI and returns its query.
func callback(t testing.TB, u *url.URL) url.Values {
	t.Helper()
	if got := u.Scheme + "://" + u.Host + u.Path; got != e2eRedirect {
		t.Fatalf("redirected to %s, want the redirect URI %s", u, e2eRedirect)
	}
	return u.Query()
}

// authorize runs a whole authorization request as a fresh browser: sign in,
// allow, and return the callback's query (code, state).
func (e *e2e) authorize(authURL string) url.Values {
	e.t.Helper()
	b := e.newBrowser()
	return b.authorize(authURL)
}

func (b *browser) authorize(authURL string) url.Values {
	b.t.Helper()
	p := b.get(authURL)
	if p.Status == http.StatusSeeOther || p.Status == http.StatusFound {
		return callback(b.t, p.location(b.t))
	}
	if _, ok := onlyForm(b.t, p).Inputs["password"]; ok {
		next := b.login(p)
		if next.Path != "/oauth2/auth" {
			b.t.Fatalf("after sign-in redirected to %s, want /oauth2/auth", next)
		}
		p = b.get(next.String())
		if p.Status == http.StatusSeeOther || p.Status == http.StatusFound {
			return callback(b.t, p.location(b.t))
		}
	}
	return callback(b.t, b.consent(p, "allow"))
}

// pkceLogin signs in with the public client (PKCE) and exchanges the code.
func (e *e2e) pkceLogin(scopes ...string) *oauth2.Token {
	e.t.Helper()
	cfg := e.pubConfig(scopes...)
	v := oauth2.GenerateVerifier()
	state := randString(e.t)
	q := e.authorize(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(v)))
	if q.Get("state") != state || q.Get("code") == "" {
		e.t.Fatalf("callback %v: want code and state %q", q, state)
	}
	tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// apiResp is a JSON response of a protocol endpoint.
type apiResp struct {
	Status int
	Header http.Header
	Raw    string
	JSON   map[string]any
}

func (r apiResp) str(k string) string {
	s, _ := r.JSON[k].(string)
	return s
}

func (r apiResp) String() string { return fmt.Sprintf("%d %s", r.Status, r.Raw) }

// call sends a request to a protocol endpoint and decodes the JSON body (if
// any). basic is "id:secret" or "".
func (e *e2e) call(method, path, contentType, body string, basic ...string) apiResp {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	setBasic(req, first(basic))
	return mustFetch(e.t, e.hc, req)
}

// mustFetch is fetch for the test's own goroutine: a transport failure
// ends the test.
func mustFetch(t testing.TB, hc *http.Client, req *http.Request) apiResp {
	t.Helper()
	out, err := fetch(hc, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return out
}

// first is the optional argument's value, "" when absent.
func first(opt []string) string {
	if len(opt) > 0 {
		return opt[0]
	}
	return ""
}

// setBasic sets HTTP Basic client authentication from "id:secret" (each
// part form-encoded, RFC 6749 section 2.3.1); "" sets nothing.
func setBasic(req *http.Request, basic string) {
	if basic != "" {
		id, secret, _ := strings.Cut(basic, ":")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
}

// formRequest is a form POST to u; basic is "id:secret" or "".
func formRequest(ctx context.Context, u string, form url.Values, basic string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	setBasic(req, basic)
	return req, nil
}

// fetch sends req with hc and reads the response (at most 1 MiB), decoding
// a JSON object body into JSON.
func fetch(hc *http.Client, req *http.Request) (apiResp, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return apiResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return apiResp{}, fmt.Errorf("read: %w", err)
	}
	out := apiResp{Status: resp.StatusCode, Header: resp.Header, Raw: string(b)}
	_ = json.Unmarshal(b, &out.JSON)
	return out, nil
}

// postForm posts form to u with hc from any goroutine: a failure is a
// response with Status 0 and the error in Raw (reported by the caller).
func postForm(ctx context.Context, hc *http.Client, u string, form url.Values, basic string) apiResp {
	req, err := formRequest(ctx, u, form, basic)
	if err != nil {
		return apiResp{Raw: err.Error()}
	}
	out, err := fetch(hc, req)
	if err != nil {
		return apiResp{Raw: err.Error()}
	}
	return out
}

// mustPostForm is postForm for the test's own goroutine: a transport
// failure ends the test.
func mustPostForm(t testing.TB, hc *http.Client, u string, form url.Values, basic string) apiResp {
	t.Helper()
	req, err := formRequest(context.Background(), u, form, basic)
	if err != nil {
		t.Fatal(err)
	}
	return mustFetch(t, hc, req)
}

// post sends a form to a protocol endpoint.
func (e *e2e) post(path string, form url.Values, basic ...string) apiResp {
	e.t.Helper()
	return e.call(http.MethodPost, path, "application/x-www-form-urlencoded", form.Encode(), basic...)
}

var (
	confBasic = e2eConfID + ":" + e2eConfSecret
	rsBasic   = e2eRSID + ":" + e2eRSSecret
)

// introspect asks as the resource server.
func (e *e2e) introspect(token string) apiResp {
	e.t.Helper()
	r := e.post("/oauth2/introspect", url.Values{"token": {token}}, rsBasic)
	if r.Status != http.StatusOK {
		e.t.Fatalf("introspect: %v", r)
	}
	return r
}

// active reports whether token introspects active.
func (e *e2e) active(token string) bool {
	e.t.Helper()
	r := e.introspect(token)
	a, ok := r.JSON["active"].(bool)
	if !ok {
		e.t.Fatalf("introspection without a boolean active: %v", r)
	}
	if !a && len(r.JSON) != 1 {
		e.t.Errorf("inactive introspection must be exactly {\"active\":false}, got %s", r.Raw)
	}
	return a
}

// refresh presents a refresh token as the public client.
func (e *e2e) refresh(rt string) apiResp {
	e.t.Helper()
	return e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {e2ePubID}})
}

// wantOAuthError asserts a JSON OAuth error response (status, error code;
// code "" accepts any).
func wantOAuthError(t testing.TB, r apiResp, status int, codes ...string) {
	t.Helper()
	if r.Status >= 500 && status < 500 {
		t.Errorf("server error: %v", r)
		return
	}
	if r.Status != status {
		t.Errorf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	if r.JSON == nil {
		t.Errorf("body is not JSON: %q", r.Raw)
		return
	}
	got := r.str("error")
	if got == "" {
		t.Errorf("no error field: %s", r.Raw)
		return
	}
	if len(codes) == 0 {
		return
	}
	for _, c := range codes {
		if got == c {
			return
		}
	}
	t.Errorf("error %q, want one of %v: %s", got, codes, r.Raw)
}

// postNoFatal is post for other goroutines: a transport failure becomes a
// response with Status 0 (reported by the caller) instead of t.Fatal.
func (e *e2e) postNoFatal(path string, form url.Values, basic ...string) apiResp {
	return postForm(e.ctx, e.hc, e.srv.URL+path, form, first(basic))
}
