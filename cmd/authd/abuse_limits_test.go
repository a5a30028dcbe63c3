package main

// Issue 15, findings 1, 2 and 9: the limits can neither be walked around
// (multipart or padded sign-ins, concurrent bursts) nor turned against
// other users (a third party locking an account, a public client or a
// resource server out). Distinct loopback source addresses stand for
// distinct machines.

import (
	"bytes"
	"context"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/ratelimit"
)

// transportFrom is an HTTP transport whose connections leave from ip (a
// loopback address: on Linux all of 127/8 is local).
func transportFrom(ip string) *http.Transport {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}
}

// clientFrom is a plain client (no redirects, no cookies) from ip.
func clientFrom(ip string) *http.Client {
	hc := noRedirectClient(nil)
	hc.Transport = transportFrom(ip)
	hc.Timeout = 30 * time.Second
	return hc
}

// browserFrom is a cookie-jar browser whose requests leave from ip.
func (e *e2e) browserFrom(ip string) *browser {
	b := e.newBrowser()
	b.hc.Transport = transportFrom(ip)
	b.hc.Timeout = 30 * time.Second
	return b
}

// signInForm is a filled sign-in form of b (a fresh CSRF token).
func (b *browser) signInForm(user, password string) url.Values {
	b.t.Helper()
	f := onlyForm(b.t, b.get(b.e.srv.URL+"/login"))
	return url.Values{"username": {user}, "password": {password}, "next": {f.Inputs["next"]}, "csrf_token": {csrfToken(b.t, f)}}
}

// postMultipart posts form as multipart/form-data, with an optional extra
// field of pad bytes.
func (b *browser) postMultipart(form url.Values, pad int) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if pad > 0 {
		_ = mw.WriteField("pad", strings.Repeat("x", pad))
	}
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+"/login", &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.e.srv.URL)
	return b.do(req)
}

// TestAbuseSignInMultipartAndPaddedLimited: a sign-in sent as multipart, or
// padded past the page form bound, never reaches the password check (so it
// cannot guess around the limiter): it is refused before any parsing (415,
// 413), with the right password too, while urlencoded guesses are limited.
func TestAbuseSignInMultipartAndPaddedLimited(t *testing.T) {
	e := newE2E(t, func(c *Config) {
		c.RateLimit = ratelimit.Config{Failures: 3, IPFailures: 1000, Window: time.Minute}
	})
	for _, tc := range []struct {
		name string
		want int
		send func(b *browser, f url.Values) page
	}{
		{"multipart", http.StatusUnsupportedMediaType, func(b *browser, f url.Values) page { return b.postMultipart(f, 0) }},
		{"padded urlencoded", http.StatusRequestEntityTooLarge, func(b *browser, f url.Values) page {
			f.Set("pad", strings.Repeat("x", 100<<10))
			return b.post(b.e.srv.URL+"/login", f)
		}},
		{"padded multipart", http.StatusRequestEntityTooLarge, func(b *browser, f url.Values) page { return b.postMultipart(f, 100<<10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.newBrowser()
			for i := 0; i < 5; i++ {
				if p := tc.send(b, b.signInForm(e2eUser, "wrong")); p.Status != tc.want {
					t.Fatalf("wrong password %d: %d %.300s, want %d", i, p.Status, p.Body, tc.want)
				}
			}
			if p := tc.send(b, b.signInForm(e2eUser, e2ePassword)); p.Status != tc.want {
				t.Fatalf("right password: %d, want %d (never parsed, never signed in)", p.Status, tc.want)
			}
		})
	}
	b := e.newBrowser()
	for i := 0; i < 3; i++ {
		if p := b.post(b.e.srv.URL+"/login", b.signInForm(e2eUser, "wrong")); p.Status != http.StatusUnauthorized {
			t.Fatalf("urlencoded wrong password %d: %d", i, p.Status)
		}
	}
	if p := b.post(b.e.srv.URL+"/login", b.signInForm(e2eUser, "still wrong")); p.Status != http.StatusTooManyRequests {
		t.Fatalf("4th urlencoded wrong password: %d, want 429", p.Status)
	}
}

// limitBurst sends n requests at once and counts the answers that are not 429.
func limitBurst(t *testing.T, n int, send func() int) (notLimited int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st := send()
			mu.Lock()
			defer mu.Unlock()
			if st == 0 {
				t.Error("transport failure")
			}
			if st != http.StatusTooManyRequests {
				notLimited++
			}
		}()
	}
	close(start)
	wg.Wait()
	return notLimited
}

// Finding 1: counting is atomic. A 40-request burst of wrong passwords gets
// at most the limit's number of answers that are not 429.
func TestAbuseSignInBurst(t *testing.T) {
	const limit = 5
	e := newE2E(t, func(c *Config) {
		c.RateLimit = ratelimit.Config{Failures: limit, IPFailures: 1000, Window: time.Minute}
	})
	b := e.newBrowser()
	forms := make(chan url.Values, 40)
	for i := 0; i < 40; i++ {
		forms <- b.signInForm(e2eUser, "wrong-"+strconv.Itoa(i))
	}
	got := limitBurst(t, 40, func() int { return b.post(e.srv.URL+"/login", <-forms).Status })
	if got > limit {
		t.Errorf("a burst of 40 wrong passwords got %d answers that are not 429, want at most %d", got, limit)
	}
	t.Logf("%d of 40 not limited", got)
}

// Finding 1, client authentication: a 40-request burst of wrong secrets gets
// at most the limit's number of answers that are not 429.
func TestAbuseClientAuthBurst(t *testing.T) {
	const limit = 5
	e := newE2E(t, func(c *Config) {
		c.RateLimit = ratelimit.Config{Failures: limit, IPFailures: 1000, Window: time.Minute}
	})
	hc := clientFrom("127.0.0.1")
	got := limitBurst(t, 40, func() int {
		return postForm(e.ctx, hc, e.srv.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, e2eConfID+":wrong").Status
	})
	if got > limit {
		t.Errorf("a burst of 40 wrong secrets got %d answers that are not 429, want at most %d", got, limit)
	}
	t.Logf("%d of 40 not limited", got)
}

// Finding 2: 40 failed sign-ins for alice from one address do not stop
// alice's own sign-in from another; the attacker's address is blocked.
func TestAbuseSignInNotLockedOutFromAnotherAddress(t *testing.T) {
	e := newE2E(t) // the default limits
	attacker := e.browserFrom("127.0.0.2")
	limited := 0
	for i := 0; i < 40; i++ {
		switch p := attacker.post(e.srv.URL+"/login", attacker.signInForm(e2eUser, "guess-"+strconv.Itoa(i))); p.Status {
		case http.StatusTooManyRequests:
			limited++
		case http.StatusUnauthorized:
		default:
			t.Fatalf("guess %d: %d", i, p.Status)
		}
	}
	if limited < 40-10 {
		t.Errorf("the attacker got %d of 40 guesses limited, want at least 30", limited)
	}
	alice := e.browserFrom("127.0.0.3")
	start := time.Now()
	p := alice.post(e.srv.URL+"/login", alice.signInForm(e2eUser, e2ePassword))
	if p.Status != http.StatusSeeOther {
		t.Fatalf("alice from another address after 40 guesses: %d %.300s", p.Status, p.Body)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("alice's sign-in took %v: a slowdown must stay bounded", d)
	}
	t.Logf("alice signed in from another address in %v", time.Since(start))
}

// Finding 2: someone hammering a public client's id (with any secret) and a
// resource server's introspection credentials from one address does not
// make them unusable from another.
func TestAbusePublicClientAndResourceServerUsableFromAnotherAddress(t *testing.T) {
	e := newE2E(t) // the default limits
	tok := e.pkceLogin()
	attacker := clientFrom("127.0.0.2")
	for i := 0; i < 40; i++ {
		postForm(e.ctx, attacker, e.srv.URL+"/oauth2/token", url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {e2ePubID}, "client_secret": {"x"},
		}, "")
		postForm(e.ctx, attacker, e.srv.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, e2ePubID+":x")
		postForm(e.ctx, attacker, e.srv.URL+"/oauth2/introspect", url.Values{"token": {"x"}}, e2eRSID+":guess"+strconv.Itoa(i))
	}
	// From the real users' address (127.0.0.1): the public client refreshes
	// and signs in anew, the resource server introspects.
	start := time.Now()
	if r := e.refresh(tok.RefreshToken); r.Status != http.StatusOK {
		t.Fatalf("the public client's refresh from another address: %v", r)
	}
	_ = e.pkceLogin()
	if r := e.post("/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, rsBasic); r.Status != http.StatusOK {
		t.Fatalf("introspection from another address: %v", r)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the real callers took %v: a slowdown must stay bounded", d)
	}
	// The public client has no secret to guess: its failures count against
	// the attacker's address only, which is now blocked for everything.
	r := postForm(e.ctx, attacker, e.srv.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, rsBasic)
	if r.Status != http.StatusTooManyRequests {
		t.Errorf("the attacker's address after 120 failures: %v, want 429", r)
	}
}

// Finding 9: device authorization requests are bounded per client and
// source address; another address and another client are not affected.
func TestAbuseDeviceAuthorizationRate(t *testing.T) {
	f := newDevFixture(t, func(c *Config) { c.DeviceAuthRate = 20 })
	u := f.srv.URL + "/oauth2/device/auth"
	hc := clientFrom("127.0.0.2")
	ok := 0
	var last apiResp
	for i := 0; i < 30; i++ {
		last = postForm(context.Background(), hc, u, url.Values{"client_id": {"tv"}, "scope": {"openid"}}, "")
		if last.Status == http.StatusOK {
			ok++
		}
	}
	if ok != 20 {
		t.Errorf("30 device authorizations from one address: %d succeeded, want 20", ok)
	}
	if last.Status != http.StatusTooManyRequests || last.str("error") != "temporarily_unavailable" || last.Header.Get("Retry-After") == "" {
		t.Errorf("over the rate: %v %v, want 429 temporarily_unavailable with Retry-After", last, last.Header)
	}
	if secs, _ := strconv.Atoi(last.Header.Get("Retry-After")); secs < 1 || secs > 60 {
		t.Errorf("Retry-After %q, want 1..60", last.Header.Get("Retry-After"))
	}
	f.startDevice(t, "tv", "", "openid") // another address (127.0.0.1)
	r := postForm(context.Background(), hc, u, url.Values{"scope": {"openid"}}, "console:console-secret-0123456789")
	if r.Status != http.StatusOK {
		t.Errorf("another client from the same address: %v", r)
	}
}

// Finding 9: by default, 100 a minute.
func TestAbuseDeviceAuthorizationDefaultRate(t *testing.T) {
	if c := defaultConfig(); c.DeviceAuthRate != 100 {
		t.Errorf("default AUTHD_DEVICE_AUTH_RATE = %d, want 100", c.DeviceAuthRate)
	}
	t.Setenv("AUTHD_SECRET", "test-secret-test-secret-test-secret-0123456789")
	t.Setenv("AUTHD_DEVICE_AUTH_RATE", "0")
	if c, err := envConfig(); err != nil || c.DeviceAuthRate != 0 {
		t.Errorf("AUTHD_DEVICE_AUTH_RATE=0: %d %v, want 0 (off)", c.DeviceAuthRate, err)
	}
}

// The device page's wrong-code limit is a setting, counted per source
// address (and per sign-in session): wrong codes from one address do not
// stop a person at another.
func TestAbuseDeviceCodeLimitConfigurable(t *testing.T) {
	f := newDevFixture(t, func(c *Config) { c.DeviceCodeFailures, c.DeviceCodeWindow = 3, time.Minute })
	d := f.startDevice(t, "tv", "", "openid")
	guesser := newDevBrowser(t, f.srv.URL)
	guesser.c.Transport = transportFrom("127.0.0.2")
	guesser.signIn(guesser.get("/device"))
	for i := 1; i <= 3; i++ {
		p := guesser.get("/device?user_code=BBBB-BBB" + string("BCDFGHJKLM"[i-1]))
		want := http.StatusBadRequest
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if p.Status != want {
			t.Fatalf("wrong guess %d: %d, want %d", i, p.Status, want)
		}
	}
	jar, _ := cookiejar.New(nil)
	person := &devBrowser{t: t, base: f.srv.URL, c: noRedirectClient(jar)}
	person.c.Transport = transportFrom("127.0.0.3")
	if p := person.signIn(person.get(d.VerificationURIComplete)); p.Status != http.StatusOK {
		t.Fatalf("the right code from another address: %d", p.Status)
	}
}
