package main

// Authorization responses beyond the plain query redirect (issue 13):
// response modes query, fragment and form_post for success and error, the
// RFC 9207 iss parameter on every authorization response, refused request
// objects (request_not_supported / request_uri_not_supported, redirected
// only to a validated redirect URI), and the WWW-Authenticate challenge on
// every 401 after HTTP Basic.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

// authURLWith is the public client's PKCE authorization URL with extra
// parameters; it returns the URL and its state.
func (e *e2e) authURLWith(t *testing.T, extra url.Values) (string, string) {
	t.Helper()
	state := randString(t)
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(oauth2.GenerateVerifier())}
	for k, v := range extra {
		opts = append(opts, oauth2.SetAuthURLParam(k, v[0]))
	}
	return e.pubConfig().AuthCodeURL(state, opts...), state
}

// decide runs a fresh browser through sign-in to the consent decision and
// returns authd's answer to it (a redirect, or a form_post page).
func (e *e2e) decide(t *testing.T, authURL, decision string) page {
	t.Helper()
	b := e.newBrowser()
	next := b.login(b.get(authURL))
	p := b.get(next.String())
	f := onlyForm(t, p)
	action, err := p.URL.Parse(f.Action)
	if err != nil {
		t.Fatal(err)
	}
	return b.post(action.String(), url.Values{"consent": {decision}, "csrf_token": {csrfToken(t, f)}})
}

// wantFormPost checks p is authd's form_post page: 200 HTML whose one form
// posts exactly want (and nothing else that has a name) to the redirect
// URI, with a visible submit button, under a CSP that lets its script run
// (nonce) and its form post to the redirect URI's origin.
func wantFormPost(t testing.TB, p page, want url.Values) {
	t.Helper()
	if p.Status != http.StatusOK || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("form_post: status %d, Content-Type %q; want a 200 HTML page; body %.500s", p.Status, p.Header.Get("Content-Type"), p.Body)
	}
	f := onlyForm(t, p)
	if f.Action != e2eRedirect {
		t.Errorf("form posts to %q, want %q", f.Action, e2eRedirect)
	}
	if !strings.Contains(strings.ToLower(p.Body), `method="post"`) {
		t.Errorf("form is not method=post: %.800s", p.Body)
	}
	got := url.Values{}
	button := false
	for _, fl := range f.Fields {
		if fl.Input && fl.Type == "hidden" {
			got.Set(fl.Name, fl.Value)
		}
	}
	button = strings.Contains(p.Body, `type="submit"`)
	if !button {
		t.Errorf("form_post page has no submit button for a browser without scripts: %.800s", p.Body)
	}
	for k := range want {
		if got.Get(k) != want.Get(k) {
			t.Errorf("form_post field %s = %q, want %q (all: %v)", k, got.Get(k), want.Get(k), got)
		}
	}
	csp := p.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'nonce-") || !strings.Contains(csp, "form-action http://127.0.0.1:53682") {
		t.Errorf("form_post CSP %q: want script-src with a nonce and form-action allowing the redirect URI", csp)
	}
	if strings.Contains(p.Body, "<script>") || !strings.Contains(p.Body, "<script nonce=") {
		t.Errorf("form_post script is not nonce-tagged: %.800s", p.Body)
	}
}

func TestE2EResponseModeFormPostSuccess(t *testing.T) {
	e := newE2E(t)
	authURL, state := e.authURLWith(t, url.Values{"response_mode": {"form_post"}})
	p := e.decide(t, authURL, "allow")
	wantFormPost(t, p, url.Values{"state": {state}, "iss": {e.srv.URL}})
	if onlyForm(t, p).Inputs["code"] == "" {
		t.Errorf("form_post page carries no code: %.800s", p.Body)
	}
}

func TestE2EResponseModeFormPostError(t *testing.T) {
	e := newE2E(t)
	authURL, state := e.authURLWith(t, url.Values{"response_mode": {"form_post"}})
	p := e.decide(t, authURL, "deny")
	wantFormPost(t, p, url.Values{"error": {"access_denied"}, "state": {state}, "iss": {e.srv.URL}})
	if _, ok := onlyForm(t, p).Inputs["code"]; ok {
		t.Error("a denied form_post carries a code")
	}
}

// fragmentOf checks p redirects to the redirect URI with its parameters in
// the fragment (none in the query) and returns them.
func fragmentOf(t *testing.T, p page) url.Values {
	t.Helper()
	if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
		t.Fatalf("status %d, want a redirect; body %.500s", p.Status, p.Body)
	}
	u := p.location(t)
	if got := u.Scheme + "://" + u.Host + u.Path; got != e2eRedirect || u.RawQuery != "" {
		t.Fatalf("redirected to %s, want %s with no query", u, e2eRedirect)
	}
	v, err := url.ParseQuery(u.Fragment)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestE2EResponseModeFragment(t *testing.T) {
	e := newE2E(t)
	authURL, state := e.authURLWith(t, url.Values{"response_mode": {"fragment"}})
	v := fragmentOf(t, e.decide(t, authURL, "allow"))
	if v.Get("code") == "" || v.Get("state") != state || v.Get("iss") != e.srv.URL {
		t.Errorf("fragment %v: want code, state %q and iss %q", v, state, e.srv.URL)
	}
	authURL, state = e.authURLWith(t, url.Values{"response_mode": {"fragment"}, "prompt": {"consent"}})
	v = fragmentOf(t, e.decide(t, authURL, "deny"))
	if v.Get("error") != "access_denied" || v.Get("state") != state || v.Get("iss") != e.srv.URL {
		t.Errorf("error fragment %v: want access_denied, state %q and iss %q", v, state, e.srv.URL)
	}
}

// TestE2EAuthorizationResponseIss: RFC 9207 — every authorization response,
// success or error, names the issuer.
func TestE2EAuthorizationResponseIss(t *testing.T) {
	e := newE2E(t)
	authURL, _ := e.authURLWith(t, nil)
	if q := e.authorize(authURL); q.Get("iss") != e.srv.URL || q.Get("code") == "" {
		t.Errorf("success redirect %v: want a code and iss %q", q, e.srv.URL)
	}
	authURL, _ = e.authURLWith(t, url.Values{"prompt": {"consent"}})
	if q := callback(t, e.decide(t, authURL, "deny").location(t)); q.Get("error") != "access_denied" || q.Get("iss") != e.srv.URL {
		t.Errorf("deny redirect %v: want access_denied and iss %q", q, e.srv.URL)
	}
	for name, extra := range map[string]url.Values{
		"prompt=none":   {"prompt": {"none"}},
		"invalid scope": {"scope": {"openid nosuchscope"}},
	} {
		authURL, _ = e.authURLWith(t, extra)
		p := e.newBrowser().get(authURL)
		q := callback(t, p.location(t))
		if q.Get("error") == "" || q.Get("iss") != e.srv.URL {
			t.Errorf("%s: error redirect %v: want an error and iss %q", name, q, e.srv.URL)
		}
	}
}

// requestObject is an unsigned (alg none) request object for client id.
func requestObject(id string, claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	claims["client_id"], claims["iss"], claims["aud"] = id, id, "authd"
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// keyedClient registers a public code-flow client with a registered key set
// (fosite would verify — or, for alg none, just accept — its request
// objects).
func keyedClient(t *testing.T, e *e2e, id string) {
	t.Helper()
	_, b := es256Key(t, "k1")
	e.srv.addClient(t, storage.Client{
		ID: id, RedirectURIs: []string{e2eRedirect}, GrantTypes: []string{"authorization_code"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile"}, JWKS: b,
	}, "")
}

// TestE2ERequestObjectRefused: authd does not support request objects
// (discovery says so); a request or request_uri parameter is refused with
// request_not_supported / request_uri_not_supported, redirected to the
// registered redirect URI only, for clients with and without keys.
func TestE2ERequestObjectRefused(t *testing.T) {
	e := newE2E(t)
	keyedClient(t, e, "keyed")
	for _, client := range []string{e2ePubID, "keyed"} {
		for param, code := range map[string]string{"request": "request_not_supported", "request_uri": "request_uri_not_supported"} {
			value := requestObject(client, map[string]any{"scope": "openid profile", "state": "from-the-object-123"})
			if param == "request_uri" {
				value = "https://rp.example/request.jwt"
			}
			cfg := e.pubConfig("openid", "profile")
			cfg.ClientID = client
			state := randString(t)
			authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam(param, value))
			p := e.newBrowser().get(authURL)
			if p.Status != http.StatusSeeOther {
				t.Errorf("%s with %s: status %d, want a 303 to the redirect URI; body %.300s", client, param, p.Status, p.Body)
				continue
			}
			q := callback(t, p.location(t))
			if q.Get("error") != code || q.Get("state") != state || q.Get("iss") != e.srv.URL || q.Get("code") != "" {
				t.Errorf("%s with %s: callback %v; want error %s, state %q, iss", client, param, q, code, state)
			}

			cfg.RedirectURL = "http://127.0.0.1:1/not-registered"
			p = e.newBrowser().get(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam(param, value)))
			if p.Status < 400 || p.Header.Get("Location") != "" {
				t.Errorf("%s with %s and an unregistered redirect URI: status %d, Location %q; want an error page", client, param, p.Status, p.Header.Get("Location"))
			}
		}
	}
}

// TestE2EBasicChallenge: RFC 6749 §5.2 — a 401 after failed HTTP Basic
// client authentication carries WWW-Authenticate, at every endpoint that
// authenticates clients.
func TestE2EBasicChallenge(t *testing.T) {
	e := newE2E(t)
	for path, form := range map[string]url.Values{
		"/oauth2/token":      {"grant_type": {"client_credentials"}},
		"/oauth2/revoke":     {"token": {"whatever"}},
		"/oauth2/introspect": {"token": {"whatever"}},
	} {
		r := e.postNoFatal(path, form, e2eConfID+":wrong-secret")
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s with a wrong secret: %s, want 401", path, r)
		}
		if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="authd"` {
			t.Errorf("%s 401: WWW-Authenticate %q, want Basic realm=\"authd\"", path, got)
		}
	}
}

func TestDiscoveryResponseModesAndIss(t *testing.T) {
	e := newE2E(t)
	r := e.call(http.MethodGet, "/.well-known/openid-configuration", "", "")
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.Raw), &doc); err != nil {
		t.Fatal(err)
	}
	modes, _ := json.Marshal(doc["response_modes_supported"])
	if string(modes) != `["query","fragment","form_post"]` {
		t.Errorf("response_modes_supported %s", modes)
	}
	if doc["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("authorization_response_iss_parameter_supported = %v, want true", doc["authorization_response_iss_parameter_supported"])
	}
	if doc["request_parameter_supported"] != false || doc["request_uri_parameter_supported"] != false {
		t.Errorf("request_parameter_supported %v, request_uri_parameter_supported %v; want false, false",
			doc["request_parameter_supported"], doc["request_uri_parameter_supported"])
	}
}
