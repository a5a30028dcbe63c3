package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// flowError is a failed step: the step and the HTTP status (0 for a
// transport error), so errors can be counted by status.
type flowError struct {
	step   string
	status int
	detail string
}

func (e *flowError) Error() string {
	return fmt.Sprintf("%s: status %d: %.300s", e.step, e.status, e.detail)
}

// class is how the error is counted in the report.
func (e *flowError) class() string {
	if e.status == 0 {
		return e.step + ":net"
	}
	return fmt.Sprintf("%s:%d", e.step, e.status)
}

func errClass(err error) string {
	if fe, ok := err.(*flowError); ok {
		return fe.class()
	}
	return "other"
}

// browser is one user agent: a cookie jar over the shared transport.
type browser struct {
	h  *harness
	hc *http.Client
}

func (h *harness) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{h: h, hc: h.client(jar)}
}

type page struct {
	status int
	loc    string
	body   string
}

func (b *browser) do(step string, req *http.Request) (page, error) {
	resp, err := b.hc.Do(req)
	if err != nil {
		return page{}, &flowError{step: step, detail: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return page{}, &flowError{step: step, detail: err.Error()}
	}
	return page{status: resp.StatusCode, loc: resp.Header.Get("Location"), body: string(body)}, nil
}

func (b *browser) get(step, u string) (page, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return page{}, err
	}
	return b.do(step, req)
}

func (b *browser) post(step, u string, form url.Values) (page, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return page{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.h.base) // browsers send it; gorilla/csrf checks it
	return b.do(step, req)
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	nextRE   = regexp.MustCompile(`name="next" value="([^"]*)"`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

func field(re *regexp.Regexp, body string) string {
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func randB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pkce is a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = randB64(32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize runs the authorization request as this browser, signing in as
// user when the login form appears and allowing on the consent page, and
// returns the code from the redirect to the client's callback.
func (b *browser) authorize(client, user, scope, challenge string) (code string, err error) {
	state := randB64(12)
	q := url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirect},
		"scope": {scope}, "state": {state}, "nonce": {randB64(12)},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	p, err := b.get("authorize", b.h.base+"/oauth2/auth?"+q.Encode())
	if err != nil {
		return "", err
	}
	for step := 0; step < 6; step++ {
		switch {
		case p.status == http.StatusSeeOther || p.status == http.StatusFound:
			u, err := url.Parse(p.loc)
			if err != nil {
				return "", &flowError{step: "redirect", status: p.status, detail: p.loc}
			}
			if strings.HasPrefix(p.loc, redirect) {
				v := u.Query()
				if v.Get("state") != state || v.Get("code") == "" {
					return "", &flowError{step: "callback", status: p.status, detail: p.loc}
				}
				return v.Get("code"), nil
			}
			if p, err = b.get("authorize", b.h.base+u.RequestURI()); err != nil {
				return "", err
			}
		case p.status == http.StatusOK && strings.Contains(p.body, `name="password"`):
			p, err = b.post("login", b.h.base+"/login", url.Values{
				"username": {user}, "password": {userPass},
				"next": {field(nextRE, p.body)}, "csrf_token": {field(csrfRE, p.body)},
			})
			if err != nil {
				return "", err
			}
			if p.status != http.StatusSeeOther {
				return "", &flowError{step: "login", status: p.status, detail: p.body}
			}
		case p.status == http.StatusOK && strings.Contains(p.body, `name="consent"`):
			action := field(actionRE, p.body)
			p, err = b.post("consent", b.h.base+action, url.Values{"consent": {"allow"}, "csrf_token": {field(csrfRE, p.body)}})
			if err != nil {
				return "", err
			}
		default:
			return "", &flowError{step: "authorize", status: p.status, detail: p.body}
		}
	}
	return "", &flowError{step: "authorize", status: p.status, detail: "too many steps"}
}

// tokens is a token endpoint response.
type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	IDToken string `json:"id_token"`
}

// postToken posts a form to the token endpoint as the public client.
func (h *harness) postToken(step string, form url.Values) (tokens, error) {
	var t tokens
	req, _ := http.NewRequest(http.MethodPost, h.base+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := h.hc.Do(req)
	if err != nil {
		return t, &flowError{step: step, detail: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return t, &flowError{step: step, detail: err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		return t, &flowError{step: step, status: resp.StatusCode, detail: string(body)}
	}
	if err := json.Unmarshal(body, &t); err != nil || t.Access == "" {
		return t, &flowError{step: step, status: resp.StatusCode, detail: "bad token response: " + string(body)}
	}
	return t, nil
}

// exchange redeems a code for a public client.
func (h *harness) exchange(client, code, verifier string) (tokens, error) {
	return h.postToken("exchange", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {client}, "code_verifier": {verifier},
	})
}

// mintGrant runs the code flow for the public client bench-pub in b (signed
// in as user after the first call) and returns the grant's first tokens.
func (b *browser) mintGrant(user, scope string) (tokens, error) {
	return b.mintGrantFor(pubClient, user, scope)
}

// mintGrantFor is mintGrant for another public client (bench-pub-jwt).
func (b *browser) mintGrantFor(client, user, scope string) (tokens, error) {
	v, ch := pkce()
	code, err := b.authorize(client, user, scope, ch)
	if err != nil {
		return tokens{}, err
	}
	t, err := b.h.exchange(client, code, v)
	if err == nil && strings.Contains(scope, "offline_access") && t.Refresh == "" {
		err = &flowError{step: "exchange", status: 200, detail: "no refresh token"}
	}
	return t, err
}
