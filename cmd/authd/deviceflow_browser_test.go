package main

// A real headless Chromium approves a device: it opens the verification URI,
// signs in, types the user code, approves; the device's next poll gets
// tokens.

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestDeviceFlowInBrowser(t *testing.T) {
	f := newDevFixture(t)
	d := f.startDevice(t, "tv", "", devScopes)
	wantDevError(t, f.poll(t, "tv", "", d.DeviceCode), 400, "authorization_pending")

	bctx := headlessChrome(t)

	fail := func(step string, err error) {
		t.Helper()
		browserFatal(t, bctx, step, err)
	}

	// The verification URI without the code: sign in first.
	if err := chromedp.Do(bctx, browserSignIn(d.VerificationURI, devUser, devPassword)); err != nil {
		fail("sign in", err)
	}
	if err := waitForElement(bctx, "user_code"); err != nil {
		fail("the code entry page after sign-in", err)
	}
	// Typed as a person might: lower case, no dash.
	typed := strings.ToLower(strings.ReplaceAll(d.UserCode, "-", ""))
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.ID("user_code"), typed),
		chromedp.Click(chromedp.ID("continue")),
	); err != nil {
		fail("enter the code", err)
	}
	if err := waitForElement(bctx, "approve"); err != nil {
		fail("the confirmation page", err)
	}
	shown, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		fail("read the confirmation page", err)
	}
	for _, want := range []string{"Living Room TV", d.UserCode, "offline_access"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the confirmation page does not show %q:\n%s", want, shown)
		}
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("approve"))); err != nil {
		fail("approve", err)
	}
	if err := waitForElement(bctx, "result"); err != nil {
		fail("the result page", err)
	}
	result, _ := chromedp.Run(bctx, chromedp.Text(chromedp.ID("result")))
	if !strings.Contains(result, "allowed") {
		t.Errorf("result page says %q", result)
	}

	tok := f.poll(t, "tv", "", d.DeviceCode)
	if tok.Status != 200 || tok.str("access_token") == "" || tok.str("refresh_token") == "" || tok.str("id_token") == "" {
		t.Fatalf("poll after approval in the browser: %d %s", tok.Status, tok.Raw)
	}
	if in := f.introspect(t, tok.str("access_token")); in.JSON["active"] != true || in.str("sub") != f.subject {
		t.Fatalf("introspection: %s", in.Raw)
	}
}
