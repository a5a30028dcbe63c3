package main

// A real headless Chromium runs fetch() from a page on another loopback
// origin against authd: the browser itself enforces CORS.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

// corsFetchJS runs fetch(method, url) from the page with headers and body
// and resolves to "status body" when the page may read the answer, or
// "blocked: error" when the browser hides it (a CORS failure is a
// TypeError to the page).
const corsFetchJS = `(async (u, method, headers, body) => {
  try {
    const init = {method: method, headers: headers};
    if (body !== "") { init.body = body; }
    const r = await fetch(u, init);
    return r.status + " " + await r.text();
  } catch (e) { return "blocked: " + e; }
})(%s, %s, %s, %s)`

func browserFetch(t *testing.T, ctx context.Context, u, method string, headers map[string]string, body string) string {
	t.Helper()
	args := make([]any, 0, 4)
	for _, v := range []any{u, method, headers, body} {
		b, _ := json.Marshal(v)
		args = append(args, string(b))
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(corsFetchJS, args...), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch %s %s from the page: %v", method, u, err)
	}
	return out
}

func TestBrowserCORSFetch(t *testing.T) {
	bctx := headlessChrome(t)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>spa</title><p id="ready">ready</p>`)
	}))
	defer page.Close()
	// The app runs at http://localhost:P; http://127.0.0.1:P is another
	// origin (and authd's own is 127.0.0.1 on its port).
	appOrigin := strings.Replace(page.URL, "127.0.0.1", "localhost", 1)

	e := newE2E(t)
	e.srv.addClient(t, storage.Client{ID: "spa", RedirectURIs: []string{e2eRedirect}, CORSOrigins: []string{appOrigin},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "offline_access"}}, "")
	cfg := &oauth2.Config{ClientID: "spa", Endpoint: e.endpoint(oauth2.AuthStyleInParams), RedirectURL: e2eRedirect,
		Scopes: []string{"openid", "offline_access"}}
	v := oauth2.GenerateVerifier()
	q := e.authorize(cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(v)))

	if err := chromedp.Do(bctx, chromedp.Navigate(appOrigin+"/"), chromedp.WaitVisible(chromedp.ID("ready"))); err != nil {
		t.Fatal(err)
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	got := browserFetch(t, bctx, e.srv.URL+"/oauth2/token", "POST", form, url.Values{"grant_type": {"authorization_code"},
		"code": {q.Get("code")}, "redirect_uri": {e2eRedirect}, "client_id": {"spa"}, "code_verifier": {v}}.Encode())
	status, body, _ := strings.Cut(got, " ")
	var tok map[string]any
	if status != "200" || json.Unmarshal([]byte(body), &tok) != nil || tok["access_token"] == nil {
		t.Fatalf("code exchange by fetch() from the app's origin: %s", got)
	}
	// Authorization is not a safelisted header: this one is preflighted.
	got = browserFetch(t, bctx, e.srv.URL+"/userinfo", "GET", map[string]string{"Authorization": "Bearer " + tok["access_token"].(string)}, "")
	if !strings.HasPrefix(got, "200 ") || !strings.Contains(got, e.sub) {
		t.Errorf("userinfo by fetch() from the app's origin: %s", got)
	}
	if got = browserFetch(t, bctx, e.srv.URL+"/.well-known/jwks.json", "GET", map[string]string{}, ""); !strings.HasPrefix(got, "200 ") {
		t.Errorf("JWKS by fetch(): %s", got)
	}
	got = browserFetch(t, bctx, e.srv.URL+"/oauth2/introspect", "POST", map[string]string{"Authorization": "Basic " + basicValue(rsBasic),
		"Content-Type": "application/x-www-form-urlencoded"}, "token=x")
	if !strings.HasPrefix(got, "blocked: ") {
		t.Errorf("introspection by fetch() must be blocked by the browser: %s", got)
	}

	// From an origin that is not the client's, the browser hides the answer.
	if err := chromedp.Do(bctx, chromedp.Navigate(page.URL+"/"), chromedp.WaitVisible(chromedp.ID("ready"))); err != nil {
		t.Fatal(err)
	}
	got = browserFetch(t, bctx, e.srv.URL+"/oauth2/token", "POST", form, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {"not-a-token"}, "client_id": {"spa"}}.Encode())
	if !strings.HasPrefix(got, "blocked: ") {
		t.Errorf("token by fetch() from an unrelated origin must be blocked: %s", got)
	}
}
