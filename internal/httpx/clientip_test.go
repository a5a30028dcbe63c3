package httpx

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func mustNets(t *testing.T, s string) Proxies {
	t.Helper()
	nets, err := ParseProxyNets(s)
	if err != nil {
		t.Fatal(err)
	}
	return Proxies{Nets: nets}
}

// TestProxiesResolve: the forwarding header counts only from a trusted
// peer, the walk goes right to left past trusted proxies, and anything
// malformed gives the peer.
func TestProxiesResolve(t *testing.T) {
	trusted := "10.0.0.0/8, 192.168.1.1, fd00::/8"
	for _, tc := range []struct {
		name, trust, header, peer string
		lines                     []string
		want                      string
	}{
		{"no trust: header ignored", "", "", "10.0.0.1:5000", []string{"203.0.113.7"}, "10.0.0.1"},
		{"untrusted peer: header ignored", trusted, "", "198.51.100.1:5000", []string{"203.0.113.7"}, "198.51.100.1"},
		{"trusted peer, no header", trusted, "", "10.0.0.1:5000", nil, "10.0.0.1"},
		{"ipv4", trusted, "", "10.0.0.1:5000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"bare trusted address", trusted, "", "192.168.1.1:5000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"spoofed leftmost", trusted, "", "10.0.0.1:5000", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"trusted hops skipped", trusted, "", "10.0.0.1:5000", []string{"1.2.3.4, 203.0.113.7, 10.1.1.1, 192.168.1.1"}, "203.0.113.7"},
		{"all trusted: leftmost", trusted, "", "10.0.0.1:5000", []string{"10.9.9.9, 10.1.1.1"}, "10.9.9.9"},
		{"multiple lines in order", trusted, "", "10.0.0.1:5000", []string{"1.2.3.4", "203.0.113.7, 10.1.1.1"}, "203.0.113.7"},
		{"ipv4 with port", trusted, "", "10.0.0.1:5000", []string{"203.0.113.7:4711"}, "203.0.113.7"},
		{"ipv6", trusted, "", "10.0.0.1:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"ipv6 brackets", trusted, "", "10.0.0.1:5000", []string{"[2001:db8::1]"}, "2001:db8::1"},
		{"ipv6 brackets and port", trusted, "", "10.0.0.1:5000", []string{"[2001:db8::1]:4711"}, "2001:db8::1"},
		{"ipv6 peer", trusted, "", "[fd00::5]:443", []string{"203.0.113.7"}, "203.0.113.7"},
		{"ipv4-mapped", trusted, "", "10.0.0.1:5000", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"garbage", trusted, "", "10.0.0.1:5000", []string{"not-an-ip"}, "10.0.0.1"},
		{"empty hop", trusted, "", "10.0.0.1:5000", []string{"203.0.113.7,,10.1.1.1"}, "10.0.0.1"},
		{"zone", trusted, "", "10.0.0.1:5000", []string{"fe80::1%eth0"}, "10.0.0.1"},
		{"bad port", trusted, "", "10.0.0.1:5000", []string{"203.0.113.7:http"}, "10.0.0.1"},
		{"ipv4 in brackets", trusted, "", "10.0.0.1:5000", []string{"[203.0.113.7]"}, "10.0.0.1"},
		{"garbage left of the answer is not read", trusted, "", "10.0.0.1:5000", []string{"junk, 203.0.113.7"}, "203.0.113.7"},
		{"forwarded ignored when X-Forwarded-For is the header", trusted, "", "10.0.0.1:5000", nil, "10.0.0.1"},

		{"forwarded ipv4", trusted, HeaderForwarded, "10.0.0.1:5000", []string{"for=203.0.113.7;proto=https"}, "203.0.113.7"},
		{"forwarded case", trusted, HeaderForwarded, "10.0.0.1:5000", []string{"proto=https;For=203.0.113.7"}, "203.0.113.7"},
		{"forwarded quoted ipv6", trusted, HeaderForwarded, "10.0.0.1:5000", []string{`for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"forwarded quoted ipv4", trusted, HeaderForwarded, "10.0.0.1:5000", []string{`for="203.0.113.7"`}, "203.0.113.7"},
		{"forwarded spoofed leftmost", trusted, HeaderForwarded, "10.0.0.1:5000", []string{"for=1.2.3.4, for=203.0.113.7;by=10.0.0.1"}, "203.0.113.7"},
		{"forwarded trusted skipped", trusted, HeaderForwarded, "10.0.0.1:5000", []string{"for=203.0.113.7", `for="[fd00::9]"`}, "203.0.113.7"},
		{"forwarded obfuscated port", trusted, HeaderForwarded, "10.0.0.1:5000", []string{`for="203.0.113.7:_port1"`}, "203.0.113.7"},
		{"forwarded obfuscated hop", trusted, HeaderForwarded, "10.0.0.1:5000", []string{"for=_hidden"}, "10.0.0.1"},
		{"forwarded unknown", trusted, HeaderForwarded, "10.0.0.1:5000", []string{"for=unknown, for=10.1.1.1"}, "10.0.0.1"},
		{"forwarded comma in a quoted value", trusted, HeaderForwarded, "10.0.0.1:5000", []string{`for=203.0.113.7;ext="a,b"`}, "203.0.113.7"},
		{"forwarded unterminated quote", trusted, HeaderForwarded, "10.0.0.1:5000", []string{`for="203.0.113.7`}, "10.0.0.1"},
		{"forwarded element without for", trusted, HeaderForwarded, "10.0.0.1:5000", []string{"for=203.0.113.7, proto=https"}, "10.0.0.1"},
		{"forwarded unquoted ipv6 tolerated", trusted, HeaderForwarded, "10.0.0.1:5000", []string{"for=2001:db8::1"}, "2001:db8::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNets(t, tc.trust)
			p.Header = tc.header
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			name := HeaderXForwardedFor
			if tc.header == HeaderForwarded {
				name = HeaderForwarded
			}
			for _, l := range tc.lines {
				r.Header.Add(name, l)
			}
			if tc.header == "" {
				// The other header is never read.
				r.Header.Add(HeaderForwarded, "for=198.51.100.99")
			} else {
				r.Header.Add(HeaderXForwardedFor, "198.51.100.99")
			}
			if got := p.Resolve(r); got != tc.want {
				t.Errorf("Resolve = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseProxyNets(t *testing.T) {
	nets, err := ParseProxyNets(" 10.0.0.0/8,192.168.1.1 , fd00::/8, ::ffff:172.16.0.0/108 ")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nets {
		got = append(got, n.String())
	}
	want := "[10.0.0.0/8 192.168.1.1/32 fd00::/8 172.16.0.0/12]"
	if s := fmt.Sprint(got); s != want {
		t.Errorf("nets %s, want %s", s, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "10.0.0.1/8/2"} {
		if _, err := ParseProxyNets(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestClientIPMiddleware: ClientIP gives what the middleware resolved, and
// the peer without it.
func TestClientIPMiddleware(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Set(HeaderXForwardedFor, "203.0.113.7")
	if got := ClientIP(r); got != "10.0.0.1" {
		t.Errorf("without the middleware: %q", got)
	}
	var got string
	mustNets(t, "10.0.0.0/8").Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = ClientIP(r)
	})).ServeHTTP(httptest.NewRecorder(), r)
	if got != "203.0.113.7" {
		t.Errorf("with the middleware: %q", got)
	}
}
