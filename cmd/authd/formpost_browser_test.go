package main

// A real headless Chromium with response_mode=form_post: authd's page
// auto-submits the authorization response (code or error, state, iss) to
// the client's redirect URI under its own CSP, with no CSP violation.

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

func TestBrowserFormPost(t *testing.T) {
	for _, decision := range []string{"allow", "deny"} {
		t.Run(decision, func(t *testing.T) { browserFormPost(t, decision, true) })
	}
	// Without scripts the page does not submit itself: its visible
	// Continue button does.
	t.Run("allow-without-scripts", func(t *testing.T) { browserFormPost(t, "allow", false) })
}

// disableScripts turns script execution off in the browser's page.
var disableScripts = chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
	_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	return err
})

// pressContinue is what a person without scripts does on the form_post
// page: nothing has been posted yet, and the visible button posts it.
func pressContinue(ctx context.Context, got <-chan url.Values) error {
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("continue"))); err != nil {
		return err
	}
	select {
	case form := <-got:
		return fmt.Errorf("with scripts off the page posted by itself: %v", form)
	case <-time.After(500 * time.Millisecond):
	}
	return chromedp.Do(ctx, chromedp.Click(chromedp.ID("continue")))
}

// cspWatch records every console or log message about the Content Security
// Policy the browser reports.
type cspWatch struct {
	mu   sync.Mutex
	msgs []string
}

func (c *cspWatch) listen(ctx context.Context) {
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if strings.Contains(strings.ToLower(m.Text), "content security policy") {
				c.mu.Lock()
				c.msgs = append(c.msgs, m.String())
				c.mu.Unlock()
			}
		}
	}()
}

func (c *cspWatch) violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

func browserFormPost(t *testing.T, decision string, scripts bool) {
	bctx := headlessChrome(t)
	redirect, got := startCallback(t, true)

	srv, cfg := startBrowserApp(t, storage.Client{
		ID: "formpost-app", Name: "Form Post App", RedirectURIs: []string{redirect},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, Scopes: []string{"openid"},
	})
	state := randString(t)
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("response_mode", "form_post"))

	watch := &cspWatch{}
	watch.listen(bctx)
	err := signInToConsent(bctx, authURL)
	if err == nil && !scripts {
		err = chromedp.Do(bctx, disableScripts)
	}
	if err == nil {
		err = chromedp.Do(bctx, chromedp.Click(chromedp.ID(decision)))
	}
	if err == nil && !scripts {
		err = pressContinue(bctx, got)
	}
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	var form url.Values
	select {
	case form = <-got:
	case <-bctx.Done():
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		body, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("the redirect URI never received the POST (browser at %s)\n%.1500s\nCSP reports: %v", loc, body, watch.violations())
	}
	if decision == "allow" && (form.Get("code") == "" || form.Get("error") != "") {
		t.Errorf("POST to the redirect URI: %v, want a code", form)
	}
	if decision == "deny" && form.Get("error") != "access_denied" {
		t.Errorf("POST to the redirect URI: %v, want error access_denied", form)
	}
	if form.Get("state") != state || form.Get("iss") != srv.URL {
		t.Errorf("POST to the redirect URI: %v, want state %q and iss %q", form, state, srv.URL)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
		t.Errorf("the browser did not land on the callback page: %v", err)
	}
	if v := watch.violations(); len(v) > 0 {
		t.Errorf("the browser reported CSP violations: %v", v)
	}
}
