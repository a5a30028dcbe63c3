package main

// A real headless Chromium sees this browser under "Where you're signed
// in", signs out another browser with its Sign out button, then signs out
// here (plain forms, no JavaScript).

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestSessionsPageInBrowser(t *testing.T) {
	e := newDevicesE2E(t)
	other, _, _ := e.signedIn() // another browser, signed in over HTTP
	ss, err := e.srv.App.Sessions.List(e.ctx, e.sub)
	if err != nil || len(ss) != 1 {
		t.Fatalf("sessions %+v %v", ss, err)
	}
	otherSID := ss[0].ID

	bctx := headlessChrome(t)
	fail := func(step string, err error) {
		t.Helper()
		browserFatal(t, bctx, step, err)
	}
	err = chromedp.Do(bctx, browserSignIn(e.srv.URL+"/account/devices", e2eUser, e2ePassword,
		chromedp.WaitVisible(chromedp.ID("sessions"))))
	if err != nil {
		fail("sign in to the devices page", err)
	}
	list, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("sessions")))
	if err != nil {
		fail("read the sessions", err)
	}
	if strings.Count(list, "This browser") != 1 || !strings.Contains(list, "Chrome") || !strings.Contains(list, "127.0.0.1") {
		t.Errorf("sessions list: want this (Chrome) browser marked once, with its IP:\n%s", list)
	}

	// Sign the other browser out.
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS("#session-"+otherSID+" button.end-session")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		chromedp.WaitNotPresent(chromedp.ID("session-"+otherSID)),
		chromedp.WaitVisible(chromedp.ID("sign-out-here")),
	)
	if err != nil {
		fail("sign out the other browser", err)
	}
	e.wantLoginRequired(other, "the other browser")

	// Then sign out here: the sign-in page, and no session is left.
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.ID("sign-out-here")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.Navigate(e.srv.URL+"/account/devices"),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	if err != nil {
		fail("sign out here", err)
	}
	if ss, err := e.srv.App.Sessions.List(e.ctx, e.sub); err != nil || len(ss) != 0 {
		t.Errorf("sessions left after signing out: %+v %v", ss, err)
	}
}
