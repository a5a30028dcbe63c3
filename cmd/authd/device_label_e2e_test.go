package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const (
	firefoxUA    = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
	firefoxLabel = "Firefox on Linux"
	backendUA    = "Go-http-client/1.1"
)

// trustLoopbackProxy makes 127.0.0.0/8 a trusted proxy, so each test
// request chooses its client address with X-Forwarded-For.
func trustLoopbackProxy(t *testing.T) func(*Config) {
	return func(c *Config) {
		nets, err := parseNets("127.0.0.0/8")
		if err != nil {
			t.Fatal(err)
		}
		c.Proxies.Nets = nets
	}
}

// noDeviceInTokens checks that the grant's stored tokens (its access token
// and its family's refresh payload) do not carry the authorizing device:
// the grant's birth took it out of the session.
func noDeviceInTokens(t *testing.T, srv *testServer, grant, ua string) {
	t.Helper()
	ctx := context.Background()
	at, err := srv.App.RDB.Get(ctx, srv.App.Redis.Key(grant, "at")).Result()
	if err != nil {
		t.Fatalf("access token state: %v", err)
	}
	rt, err := srv.App.RDB.HGet(ctx, srv.App.Redis.Key(grant, "f"), "p").Result()
	if err != nil {
		t.Fatalf("refresh token state: %v", err)
	}
	for name, v := range map[string]string{"access": at, "refresh": rt} {
		if strings.Contains(v, ua) || strings.Contains(v, `"d":`) {
			t.Errorf("the %s token's stored session carries the device: %s", name, v)
		}
	}
}

// TestDeviceLabelFromAuthorizingBrowser: a web app's backend exchanges the
// code and refreshes with its own HTTP library, from its own address; the
// grant's device is still the browser that authorized it (label and first
// address), and its last use follows the refreshes.
func TestDeviceLabelFromAuthorizingBrowser(t *testing.T) {
	e := newDevicesE2E(t, trustLoopbackProxy(t), func(c *Config) { c.UsageFlushInterval = time.Hour })
	b := e.newBrowser()
	b.header = http.Header{"User-Agent": {firefoxUA}, "X-Forwarded-For": {"198.51.100.7"}}
	cfg := e.devConfig()
	v := oauth2.GenerateVerifier()
	q := b.authorize(cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(v)))
	backend := func(ip string) context.Context {
		return context.WithValue(e.ctx, oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second,
			Transport: headerTransport{http.Header{"User-Agent": {backendUA}, "X-Forwarded-For": {ip}}}})
	}
	tok, err := cfg.Exchange(backend("203.0.113.9"), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}

	gs := e.myGrants(t, tok.AccessToken)
	if len(gs) != 1 || gs[0].Device != firefoxLabel || gs[0].FirstIP != "198.51.100.7" || gs[0].LastIP != "203.0.113.9" {
		t.Fatalf("grant %+v: want device %q first_ip 198.51.100.7 (the browser), last_ip 203.0.113.9 (the exchange)", gs, firefoxLabel)
	}
	noDeviceInTokens(t, e.srv, gs[0].ID, "Firefox")
	page := b.get(e.srv.URL + "/account/devices").Body
	if !strings.Contains(page, firefoxLabel) || strings.Contains(page, "Go-http-client") ||
		!strings.Contains(page, `<span class="first-ip">198.51.100.7</span>`) {
		t.Errorf("devices page must name the browser and its address, not the backend:\n%s", page)
	}

	// A refresh from the backend at another address: last use moves, the
	// device stays.
	time.Sleep(5 * time.Millisecond)
	nt, err := cfg.TokenSource(backend("192.0.2.44"), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if n, err := e.srv.App.FlushUsage(e.ctx); err != nil || n != 1 {
		t.Fatalf("flush: %d %v", n, err)
	}
	after := e.myGrants(t, nt.AccessToken)
	if len(after) != 1 || after[0].Device != firefoxLabel || after[0].FirstIP != "198.51.100.7" || after[0].LastIP != "192.0.2.44" ||
		!after[0].LastUsedAt.After(gs[0].LastUsedAt) {
		t.Errorf("after a refresh: %+v (before %+v); want the device kept and the last use moved", after, gs)
	}
	noDeviceInTokens(t, e.srv, gs[0].ID, "Firefox")
}

// TestDeviceFlowLabelFromVerificationBrowser: a device-flow grant's device
// is the browser that entered the user code, not the device's HTTP client.
func TestDeviceFlowLabelFromVerificationBrowser(t *testing.T) {
	f := newDevFixture(t, trustLoopbackProxy(t))
	d := f.startDevice(t, "tv", "", devScopes) // Go's User-Agent, 127.0.0.1
	b := newDevBrowser(t, f.srv.URL)
	b.header = http.Header{"User-Agent": {devUAs[2].UA}, "X-Forwarded-For": {"198.51.100.8"}}
	if done := b.decide(b.signIn(b.get(d.VerificationURIComplete)), "approve"); done.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", done.Status, done.Body)
	}
	tok := f.poll(t, "tv", "", d.DeviceCode)
	if tok.Status != http.StatusOK {
		t.Fatalf("poll: %v", tok)
	}
	gs, err := f.srv.App.Grants.List(context.Background(), f.subject, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].Flow != "device_code" || gs[0].Device != devUAs[2].Label || gs[0].FirstIP != "198.51.100.8" ||
		gs[0].LastIP != "127.0.0.1" {
		t.Fatalf("device grant %+v: want device %q first_ip 198.51.100.8 (the verification browser), last_ip 127.0.0.1 (the device)", gs, devUAs[2].Label)
	}
	noDeviceInTokens(t, f.srv, gs[0].ID, "iPhone")
	page := b.get("/account/devices")
	if !strings.Contains(page.Body, devUAs[2].Label) || strings.Contains(page.Body, "Go-http-client") ||
		!strings.Contains(page.Body, `<span class="first-ip">198.51.100.8</span>`) {
		t.Errorf("devices page must name the verification browser:\n%s", page.Body)
	}
}
