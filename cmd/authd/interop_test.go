package main

// Interoperability with openid-client (npm, panva's certified RP library):
// testdata/interop/rp.mjs is a relying party built on it, in a node
// process per test; the test plays the browser (cookie jar, sign-in form,
// consent, form_post page) between it and a real authd. openid-client does
// every check an RP does: discovery and issuer, state, RFC 9207 iss, PKCE,
// the ID token (signature from the JWKS, iss, aud, exp, iat, nonce,
// auth_time) and the userinfo subject.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/storage"
)

// interopDir holds rp.mjs and its package.json / package-lock.json;
// `scripts/services.sh node` installs node_modules there with npm ci.
const interopDir = "testdata/interop"

// nodeRP is one running rp.mjs.
type nodeRP struct {
	URL         string `json:"rp"`
	RedirectURI string `json:"redirect_uri"`
	ClientID    string `json:"client_id"`
	t           *testing.T
	hc          *http.Client
}

// startNodeRP runs rp.mjs with args (after the issuer) until the test ends
// and waits for its ready line. Without node or the installed
// openid-client it skips, unless CI is set, where it fails.
func startNodeRP(t *testing.T, issuer string, args ...string) *nodeRP {
	t.Helper()
	rp, err := launchNodeRP(t, issuer, args...)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// launchNodeRP is startNodeRP returning the error (with rp.mjs's stderr)
// when the RP does not start: it exits, or prints no ready line in 20 s.
func launchNodeRP(t *testing.T, issuer string, args ...string) (*nodeRP, error) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(interopDir, "node_modules", "openid-client", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no node or openid-client (%v); run scripts/services.sh node", err)
		}
		t.Fatalf("CI is set but node or openid-client is missing (%v): scripts/services.sh node installs them", err)
	}
	cmd := exec.Command(node, append([]string{"rp.mjs", issuer}, args...)...)
	cmd.Dir = interopDir
	stderr := &lockedBuffer{limit: 64 << 10}
	cmd.Stderr = stderr
	// An os.Pipe rather than StdoutPipe, which Wait would close under the
	// reader.
	stdout, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdout.Close() })
	exited := make(chan struct{}) // closed once rp.mjs has exited and its stderr is all read
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("rp.mjs stderr:\n%s", stderr.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	rp := &nodeRP{t: t, hc: &http.Client{Timeout: 20 * time.Second}}
	select {
	case line := <-ready:
		if err := json.Unmarshal([]byte(line), rp); err != nil || rp.URL == "" {
			select { // an RP that failed has exited: wait (≤5 s) for its last words
			case <-exited:
			case <-time.After(5 * time.Second):
			}
			return nil, fmt.Errorf("rp.mjs did not start (ready line %q: %v); stderr:\n%s", line, err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("rp.mjs not ready after 20 s; stderr:\n%s", stderr.String())
	}
	return rp, nil
}

// interopRP starts rp.mjs for a client registered in e with the RP's
// redirect URI: public (PKCE, no authentication) when secret is "", else
// confidential with client_secret_basic.
func (e *e2e) interopRP(t *testing.T, id, secret string) *nodeRP {
	t.Helper()
	args := []string{id}
	if secret != "" {
		args = append(args, secret)
	}
	rp := startNodeRP(t, e.srv.URL, args...)
	e.srv.addClient(t, storage.Client{
		ID: id, Name: "openid-client " + id, RedirectURIs: []string{rp.RedirectURI},
		GrantTypes:    []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"},
		Scopes:        []string{"openid", "profile", "email", "offline_access"},
	}, secret)
	return rp
}

// rpResult is rp.mjs's answer at its callback or refresh endpoint.
type rpResult struct {
	Status int            `json:"-"`
	Tokens rpTokens       `json:"tokens"`
	Claims map[string]any `json:"claims"`
	User   map[string]any `json:"userinfo"`
	Error  string         `json:"error"`
	Msg    string         `json:"message"`
	// Pages are the pages authd showed on the way (signin, consent,
	// form_post), in order.
	Pages []string `json:"-"`
}

type rpTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
	ExpiresIn    int    `json:"expires_in"`
}

// decodeResult reads one of rp.mjs's JSON answers.
func decodeResult(t *testing.T, status int, body string) rpResult {
	t.Helper()
	var r rpResult
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("rp.mjs answered %d, not JSON: %.500s", status, body)
	}
	r.Status = status
	return r
}

// ok fails the test unless openid-client accepted everything.
func (r rpResult) ok(t *testing.T) rpResult {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("openid-client refused: %d %s: %s (pages %v)", r.Status, r.Error, r.Msg, r.Pages)
	}
	return r
}

func (r rpResult) sub() string {
	s, _ := r.Claims["sub"].(string)
	return s
}

// signIn plays the browser from the RP's /login (with params) to its
// callback: it follows redirects, signs in on the sign-in form, allows on
// the consent page and submits a form_post page (through post, which may
// tamper with it); it returns what the RP answered at its callback.
func (rp *nodeRP) signIn(b *browser, params url.Values, post func(action string, form url.Values) page) rpResult {
	t := rp.t
	t.Helper()
	if post == nil {
		post = b.post
	}
	var pages []string
	p := b.get(rp.URL + "/login?" + params.Encode())
	for range 10 {
		switch {
		case p.Status == http.StatusFound || p.Status == http.StatusSeeOther:
			p = b.get(p.location(t).String())
		case strings.HasPrefix(p.URL.String(), rp.RedirectURI):
			r := decodeResult(t, p.Status, p.Body)
			r.Pages = pages
			return r
		case isSignIn(t, p):
			pages = append(pages, "signin")
			p = b.get(b.login(p).String())
		case isConsent(t, p):
			pages = append(pages, "consent")
			p = allowConsent(b, p)
		case p.Status == http.StatusOK && strings.HasPrefix(onlyForm(t, p).Action, rp.RedirectURI):
			pages = append(pages, "form_post")
			p = post(onlyForm(t, p).Action, formPostValues(onlyForm(t, p)))
		default:
			t.Fatalf("unexpected page on the way to the RP (%v so far): %d %s %.800s", pages, p.Status, p.URL, p.Body)
		}
	}
	t.Fatalf("no answer from the RP after 10 steps (pages %v)", pages)
	return rpResult{}
}

// allowConsent posts the consent page's form with consent=allow and returns
// authd's answer (a redirect, or a form_post page).
func allowConsent(b *browser, p page) page {
	b.t.Helper()
	f := onlyForm(b.t, p)
	action, err := p.URL.Parse(f.Action)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.post(action.String(), url.Values{"consent": {"allow"}, "csrf_token": {csrfToken(b.t, f)}})
}

// formPostValues are a form_post page's hidden fields.
func formPostValues(f htmlForm) url.Values {
	v := url.Values{}
	for _, fl := range f.Fields {
		if fl.Input && fl.Type == "hidden" {
			v.Set(fl.Name, fl.Value)
		}
	}
	return v
}

// refresh asks the RP to refresh with openid-client's refreshTokenGrant.
func (rp *nodeRP) refresh(rt string) rpResult {
	t := rp.t
	t.Helper()
	body, _ := json.Marshal(map[string]string{"refresh_token": rt})
	resp, err := rp.hc.Post(rp.URL+"/refresh", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("POST %s/refresh: %v", rp.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return decodeResult(t, resp.StatusCode, string(b))
}

// claimInt is a numeric claim (failing when absent).
func claimInt(t *testing.T, claims map[string]any, name string) int64 {
	t.Helper()
	v, ok := claims[name].(float64)
	if !ok {
		t.Fatalf("claim %s missing or not a number: %v", name, claims)
	}
	return int64(v)
}

// wantPages checks the pages authd showed.
func wantPages(t *testing.T, r rpResult, want ...string) {
	t.Helper()
	if fmt.Sprint(r.Pages) != fmt.Sprint(want) {
		t.Fatalf("authd showed pages %v, want %v", r.Pages, want)
	}
}

// rpPublic and rpConf are the clients the interoperability tests register
// for rp.mjs.
const (
	rpPublic     = "node-spa"
	rpConf       = "node-web"
	rpConfSecret = "node-web-secret-0123456789abcdef"
)

// TestInteropOpenIDClientCodeFlow: openid-client's code flow with PKCE and
// nonce as a public client: sign-in and consent, the ID token validated,
// userinfo fetched for the ID token's subject with the profile and email
// claims.
func TestInteropOpenIDClientCodeFlow(t *testing.T) {
	e := newE2E(t)
	if _, err := cli(t, e.srv, "users", "update", "--username", e2eUser, "--email", "alice@example.com", "--email-verified", "--name", "Alice Liddell"); err != nil {
		t.Fatal(err)
	}
	rp := e.interopRP(t, rpPublic, "")
	r := rp.signIn(e.newBrowser(), nil, nil).ok(t)
	wantPages(t, r, "signin", "consent")
	if r.sub() != e.sub || r.Claims["iss"] != e.srv.URL || fmt.Sprint(r.Claims["aud"]) != "["+rpPublic+"]" || r.Claims["nonce"] == nil {
		t.Errorf("ID token claims %v: want sub %s, iss %s, aud %s and the nonce", r.Claims, e.sub, e.srv.URL, rpPublic)
	}
	claimInt(t, r.Claims, "auth_time")
	for k, want := range map[string]any{"sub": e.sub, "preferred_username": e2eUser, "name": "Alice Liddell", "email": "alice@example.com", "email_verified": true} {
		if r.User[k] != want {
			t.Errorf("userinfo %s = %#v, want %#v (%v)", k, r.User[k], want, r.User)
		}
	}
	if r.Tokens.RefreshToken == "" || !strings.Contains(r.Tokens.Scope, "offline_access") {
		t.Errorf("tokens %+v: want a refresh token for offline_access", r.Tokens)
	}
}

// TestInteropOpenIDClientSilentRenew: the silent renew of SPA libraries,
// prompt=none with the previous ID token as id_token_hint, gives a new
// code without any page, and openid-client validates the new ID token for
// the same subject and sign-in. Without a session prompt=none comes back
// to openid-client as the error login_required.
func TestInteropOpenIDClientSilentRenew(t *testing.T) {
	e := newE2E(t)
	rp := e.interopRP(t, rpPublic, "")
	b := e.newBrowser()
	first := rp.signIn(b, nil, nil).ok(t)
	renew := rp.signIn(b, url.Values{"prompt": {"none"}, "id_token_hint": {first.Tokens.IDToken}}, nil).ok(t)
	wantPages(t, renew)
	if renew.sub() != first.sub() || renew.Tokens.IDToken == first.Tokens.IDToken {
		t.Errorf("silent renew: sub %q (first %q), new ID token %t; want the same subject in a new token", renew.sub(), first.sub(), renew.Tokens.IDToken != first.Tokens.IDToken)
	}
	if claimInt(t, renew.Claims, "auth_time") != claimInt(t, first.Claims, "auth_time") {
		t.Errorf("silent renew auth_time %v, want the sign-in's %v", renew.Claims["auth_time"], first.Claims["auth_time"])
	}
	none := rp.signIn(e.newBrowser(), url.Values{"prompt": {"none"}, "id_token_hint": {first.Tokens.IDToken}}, nil)
	wantPages(t, none)
	if none.Status == http.StatusOK || none.Error != "login_required" {
		t.Errorf("prompt=none without a session: openid-client got %d %q (%s), want the error login_required", none.Status, none.Error, none.Msg)
	}
}

// TestInteropOpenIDClientPromptLogin: a signed-in browser sent with
// prompt=login sees the sign-in form again, and the new ID token's
// auth_time is later than the first one's.
func TestInteropOpenIDClientPromptLogin(t *testing.T) {
	e := newE2E(t)
	rp := e.interopRP(t, rpPublic, "")
	b := e.newBrowser()
	first := rp.signIn(b, nil, nil).ok(t)
	time.Sleep(1100 * time.Millisecond) // auth_time has whole seconds
	again := rp.signIn(b, url.Values{"prompt": {"login"}}, nil).ok(t)
	wantPages(t, again, "signin")
	if a, f := claimInt(t, again.Claims, "auth_time"), claimInt(t, first.Claims, "auth_time"); a <= f || again.sub() != first.sub() {
		t.Errorf("prompt=login: auth_time %d (first %d), sub %q (first %q); want a later sign-in of the same user", a, f, again.sub(), first.sub())
	}
}

// TestInteropOpenIDClientFormPost: with response_mode=form_post the
// browser posts authd's form to the RP, and openid-client checks the
// response's RFC 9207 iss: a form whose iss is another issuer's, or
// without iss, is refused; the genuine one signs in.
func TestInteropOpenIDClientFormPost(t *testing.T) {
	e := newE2E(t)
	rp := e.interopRP(t, rpConf, rpConfSecret)
	b := e.newBrowser()
	var forged []rpResult
	post := func(action string, form url.Values) page {
		if form.Get("iss") != e.srv.URL || form.Get("code") == "" {
			t.Fatalf("form_post fields %v: want a code and iss %s", form, e.srv.URL)
		}
		for _, iss := range []string{"http://127.0.0.1:1", ""} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if f.Set("iss", iss); iss == "" {
				f.Del("iss")
			}
			p := b.post(action, f)
			forged = append(forged, decodeResult(t, p.Status, p.Body))
		}
		return b.post(action, form)
	}
	r := rp.signIn(b, url.Values{"response_mode": {"form_post"}}, post).ok(t)
	wantPages(t, r, "signin", "consent", "form_post")
	if r.sub() != e.sub {
		t.Errorf("form_post sign-in: sub %q, want %q", r.sub(), e.sub)
	}
	for i, f := range forged {
		if f.Status == http.StatusOK || !strings.Contains(f.Msg, "iss") {
			t.Errorf("forged form_post %d: openid-client answered %d %s (%s), want a refusal about iss", i, f.Status, f.Error, f.Msg)
		}
	}
}

// TestInteropOpenIDClientRefresh: openid-client's refreshTokenGrant as a
// confidential client (client_secret_basic): new access and refresh
// tokens, and a new ID token that keeps iss, sub, aud and auth_time with a
// new iat (OIDC Core 12.2); the rotated-out refresh token is then refused
// with invalid_grant.
func TestInteropOpenIDClientRefresh(t *testing.T) {
	e := newE2E(t)
	rp := e.interopRP(t, rpConf, rpConfSecret)
	first := rp.signIn(e.newBrowser(), nil, nil).ok(t)
	time.Sleep(1100 * time.Millisecond) // iat has whole seconds
	r := rp.refresh(first.Tokens.RefreshToken).ok(t)
	if r.Tokens.AccessToken == "" || r.Tokens.AccessToken == first.Tokens.AccessToken ||
		r.Tokens.RefreshToken == "" || r.Tokens.RefreshToken == first.Tokens.RefreshToken {
		t.Errorf("refresh: want new access and refresh tokens, got %+v", r.Tokens)
	}
	if r.Claims == nil {
		t.Fatalf("refresh: no ID token (tokens %+v)", r.Tokens)
	}
	for _, k := range []string{"iss", "sub", "aud", "auth_time"} {
		if fmt.Sprint(r.Claims[k]) != fmt.Sprint(first.Claims[k]) {
			t.Errorf("refreshed ID token %s = %v, want %v", k, r.Claims[k], first.Claims[k])
		}
	}
	if claimInt(t, r.Claims, "iat") <= claimInt(t, first.Claims, "iat") {
		t.Errorf("refreshed ID token iat %v, want later than %v", r.Claims["iat"], first.Claims["iat"])
	}
	if again := rp.refresh(first.Tokens.RefreshToken); again.Status == http.StatusOK || again.Error != "invalid_grant" {
		t.Errorf("reused refresh token: openid-client got %d %q (%s), want invalid_grant", again.Status, again.Error, again.Msg)
	}
}
