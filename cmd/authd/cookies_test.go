package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHostPrefixedCookies: with an https issuer the session and CSRF
// cookies carry the __Host- prefix (RFC 6265bis: Secure, Path=/, no Domain,
// so no sibling host or path can set or shadow them) and the prefixed
// session cookie signs the browser in; plain http keeps today's names.
func TestHostPrefixedCookies(t *testing.T) {
	for _, tc := range []struct {
		issuer, prefix string
	}{
		{"", ""},
		{"https://authd.example", "__Host-"},
	} {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			e := newE2E(t, func(c *Config) {
				if tc.issuer != "" {
					c.Issuer = tc.issuer
				}
			})
			base := e.srv.App.Config.Issuer
			cookies := signInDirect(t, e.srv.App.Handler, base)
			names := map[string]*http.Cookie{}
			for _, c := range cookies {
				names[c.Name] = c
			}
			for _, n := range []string{"authd_session", "authd_csrf"} {
				c := names[tc.prefix+n]
				if c == nil {
					t.Errorf("no %s cookie; set: %v", tc.prefix+n, cookies)
					continue
				}
				if tc.prefix != "" && (!c.Secure || c.Path != "/" || c.Domain != "") {
					t.Errorf("%s: Secure %v Path %q Domain %q, want Secure, / and none", c.Name, c.Secure, c.Path, c.Domain)
				}
				if tc.prefix != "" && names[n] != nil {
					t.Errorf("unprefixed %s set too", n)
				}
			}
			// The session cookie works: /login shows the signed-in page.
			get := httptest.NewRequest(http.MethodGet, base+"/login", nil)
			for _, c := range cookies {
				get.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			e.srv.App.Handler.ServeHTTP(rec, get)
			if !strings.Contains(rec.Body.String(), e2eUser) {
				t.Errorf("GET /login with the session cookie: %d %.300s", rec.Code, rec.Body.String())
			}
		})
	}
}
