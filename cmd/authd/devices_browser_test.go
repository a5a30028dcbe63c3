package main

// A real headless Chromium signs in to the devices page, sees the user's
// devices and revokes one with its Revoke button, then removes an app's
// access with its Remove access button (no JavaScript involved: plain
// forms).

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestDevicesPageInBrowser(t *testing.T) {
	e := newDevicesE2E(t)
	// Two devices signed in elsewhere.
	tokA := e.deviceLogin(devUAs[1].UA)
	tokB := e.deviceLogin(devUAs[2].UA)
	grantA, grantB := e.grantOfToken(t, tokA.AccessToken), e.grantOfToken(t, tokB.AccessToken)
	tokCLI := e.cliLoginIn(e.newBrowser()) // another app

	bctx := headlessChrome(t)

	fail := func(step string, err error) {
		t.Helper()
		browserFatal(t, bctx, step, err)
	}

	// Signed out: the page sends the browser to sign in, then back.
	err := chromedp.Do(bctx, browserSignIn(e.srv.URL+"/account/devices", e2eUser, e2ePassword,
		chromedp.WaitVisible(chromedp.ID("active-devices"))))
	if err != nil {
		fail("sign in to the devices page", err)
	}
	list, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("active-devices")))
	if err != nil {
		fail("read the list", err)
	}
	for _, want := range []string{devClientName, devUAs[1].Label, devUAs[2].Label} {
		if !strings.Contains(list, want) {
			t.Errorf("device list lacks %q:\n%s", want, list)
		}
	}

	// Revoke A with its button.
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS("#device-"+grantA+" button.revoke")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		chromedp.WaitNotPresent(chromedp.ID("device-"+grantA)),
		chromedp.WaitVisible(chromedp.ID("device-"+grantB)),
	)
	if err != nil {
		fail("revoke", err)
	}
	if e.active(tokA.AccessToken) {
		t.Error("the revoked device's access token is still active")
	}
	if !e.active(tokB.AccessToken) {
		t.Error("the other device's access token went inactive")
	}
	// The revoked device is in the collapsed history.
	hist, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.ID("history")))
	if err != nil {
		fail("history", err)
	}
	if !strings.Contains(hist, devUAs[1].Label) {
		t.Errorf("history lacks the revoked device: %q", hist)
	}

	// Remove the cli app's access with its button: its grant ends, the
	// devices app keeps B.
	cliApp := `li.app[data-client="` + e2ePubID + `"]`
	err = chromedp.Do(bctx,
		chromedp.WaitVisible(chromedp.CSS(cliApp)),
		chromedp.Click(chromedp.CSS(cliApp+" button.remove-app")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		chromedp.WaitNotPresent(chromedp.CSS(cliApp)),
		chromedp.WaitVisible(chromedp.CSS(`li.app[data-client="`+devClientID+`"]`)),
	)
	if err != nil {
		fail("remove access", err)
	}
	notice, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("p.notice")))
	if err != nil || !strings.Contains(notice, "access was removed") {
		t.Errorf("notice after Remove access: %q %v", notice, err)
	}
	if e.active(tokCLI.AccessToken) {
		t.Error("the removed app's access token is still active")
	}
	if !e.active(tokB.AccessToken) {
		t.Error("removing another app ended B")
	}
}
