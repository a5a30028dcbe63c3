package main

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// headerTransport adds fixed headers to every request.
type headerTransport struct{ h http.Header }

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, vs := range t.h {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// exchangeWithHeaders signs in from a fresh browser as the devices client
// and exchanges the code, with extra headers on the browser's requests and
// on the token request (a native app behind the same proxy).
func (e *e2e) exchangeWithHeaders(h http.Header) *oauth2.Token {
	e.t.Helper()
	cfg := e.devConfig()
	v := oauth2.GenerateVerifier()
	b := e.newBrowser()
	b.header = h
	q := b.authorize(cfg.AuthCodeURL(randString(e.t), oauth2.S256ChallengeOption(v)))
	ctx := context.WithValue(e.ctx, oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second, Transport: headerTransport{h}})
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// TestTrustedProxyForwardedFor: X-Forwarded-For is honoured from a trusted
// proxy only, and the grant shows the forwarded address (its rightmost hop
// that is not a trusted proxy: a client-supplied leftmost entry is not
// believed). From an untrusted peer the header is ignored.
func TestTrustedProxyForwardedFor(t *testing.T) {
	// Both headers, as a client might send them through a proxy that
	// appends to X-Forwarded-For: only the configured one is read.
	fwd := http.Header{
		"X-Forwarded-For": {"198.51.100.66, 203.0.113.7, 10.1.2.3"},
		"Forwarded":       {`for=198.51.100.66, for="[2001:db8::7]:4711";proto=https, for=10.1.2.3`},
	}
	for _, tc := range []struct {
		name, trust, header, want string
	}{
		{"trusted", "127.0.0.0/8, 10.0.0.0/8", "", "203.0.113.7"},
		{"trusted Forwarded", "127.0.0.0/8, 10.0.0.0/8", "Forwarded", "2001:db8::7"},
		{"untrusted", "", "", "127.0.0.1"},
		{"other proxies trusted", "192.0.2.0/24", "", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDevicesE2E(t, func(c *Config) {
				nets, err := parseNets(tc.trust)
				if err != nil {
					t.Fatal(err)
				}
				c.Proxies.Nets = nets
				if tc.header != "" {
					c.Proxies.Header = tc.header
				}
			})
			tok := e.exchangeWithHeaders(fwd)
			gs := e.myGrants(t, tok.AccessToken)
			if len(gs) != 1 {
				t.Fatalf("grants: %+v", gs)
			}
			if gs[0].FirstIP != tc.want || gs[0].LastIP != tc.want {
				t.Errorf("first_ip %q last_ip %q, want %q", gs[0].FirstIP, gs[0].LastIP, tc.want)
			}
		})
	}
}

func parseNets(s string) ([]netip.Prefix, error) {
	if s == "" {
		return nil, nil
	}
	var c Config
	for _, st := range settings(&c) {
		if st.name == "AUTHD_TRUSTED_PROXIES" {
			err := st.parse(s)
			return c.Proxies.Nets, err
		}
	}
	panic("no AUTHD_TRUSTED_PROXIES setting")
}
