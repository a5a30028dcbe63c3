package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

// chromiumPath is Debian's Chromium (make test installs it).
const chromiumPath = "/usr/bin/chromium"

// headlessChrome starts a real headless Chromium for one test, with a fresh
// profile and the flags this sandbox needs (no background networking: the
// machine has no network), and returns a chromedp context bounded to 60 s.
// Without a browser it skips, unless CI is set, where it fails. The
// browser's output is logged when the test fails.
func headlessChrome(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no browser at %s (%v)", chromiumPath, err)
		}
		t.Fatalf("CI is set but there is no browser at %s: %v", chromiumPath, err)
	}
	profile := t.TempDir()                // removed after the browser is gone (cleanups run last-in first-out)
	out := &lockedBuffer{limit: 64 << 10} // the first 64 KiB of the browser's output
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(out),
	)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
		if t.Failed() {
			var lines []string
			for _, l := range strings.Split(out.String(), "\n") {
				if !strings.Contains(l, "dbus") && !strings.Contains(l, "unexpected operator") && l != "" {
					lines = append(lines, l)
				}
			}
			t.Logf("browser output (D-Bus noise left out):\n%s", strings.Join(lines, "\n"))
		}
	})
	return bctx
}

// browserSignIn opens url, waits for the sign-in form there and submits it as
// user; then runs the steps in then (e.g. waiting for the page it leads to).
func browserSignIn(url, user, password string, then ...chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(append([]chromedp.Action[chromedp.Void]{
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("signin")),
	}, then...)...)
}

// signInToConsent signs in as e2eUser from the authorization request at
// authURL and waits for the consent page's Allow button (reporting an error
// page at once).
func signInToConsent(bctx context.Context, authURL string) error {
	if err := chromedp.Do(bctx, browserSignIn(authURL, e2eUser, e2ePassword)); err != nil {
		return err
	}
	return waitForElement(bctx, "allow")
}

// browserFatal fails the test at step with err, the browser's location and
// the start of the page it shows.
func browserFatal(t *testing.T, bctx context.Context, step string, err error) {
	t.Helper()
	loc, _ := chromedp.Run(bctx, chromedp.Location())
	body, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("body")))
	t.Fatalf("%s: %v (at %s)\n%.2000s", step, err, loc, body)
}

// startBrowserApp starts authd with the e2e user and the public client c,
// and returns the server and c's oauth2.Config (its first redirect URI, its
// scopes, the client id in the token request's body).
func startBrowserApp(t *testing.T, c storage.Client) (*testServer, *oauth2.Config) {
	t.Helper()
	srv := startServer(t)
	srv.addUser(t, e2eUser, e2ePassword)
	srv.addClient(t, c, "")
	return srv, &oauth2.Config{ClientID: c.ID, RedirectURL: c.RedirectURIs[0], Scopes: c.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth", TokenURL: srv.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
}

// writeDone answers the client's redirect URI in a browser test with a page
// that shows "done".
func writeDone(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<!doctype html><title>done</title><p id="done">done</p>`)
}

// startCallback serves a client's redirect URI, /callback, for a browser
// test: it sends the parameters of the first request there (the query; with
// post the POSTed form, and another method is refused) and shows "done". It
// returns the redirect URI and the parameters.
func startCallback(t *testing.T, post bool) (string, <-chan url.Values) {
	got := make(chan url.Values, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/callback":
			http.NotFound(w, r)
			return
		case post && r.Method != http.MethodPost:
			http.Error(w, "want a POST to /callback", http.StatusMethodNotAllowed)
			return
		}
		_ = r.ParseForm()
		params := r.URL.Query()
		if post {
			params = r.PostForm
		}
		select {
		case got <- params:
		default:
		}
		writeDone(w)
	}))
	t.Cleanup(cb.Close)
	return cb.URL + "/callback", got
}

// waitForElement waits until the page has an element with this id,
// failing fast when an authd page shows an error instead.
func waitForElement(ctx context.Context, id string) error {
	js := fmt.Sprintf(`document.getElementById(%q) ? "ok" : (document.querySelector("p.error") ? document.title + ": " + document.querySelector("p.error").textContent : "")`, id)
	for {
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		switch {
		case err != nil && ctx.Err() != nil:
			return err
		case state == "ok":
			return nil
		case state != "":
			return fmt.Errorf("the page shows an error: %s", state)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
