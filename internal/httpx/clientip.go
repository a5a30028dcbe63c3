package httpx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The caller's address. Behind a reverse proxy the TCP peer is the proxy;
// the client is then what the proxy reports in a forwarding header, but only
// a proxy authd trusts may say so (anyone can send the header). Proxies
// resolves the address once per request (its Middleware, at the top of the
// handler chain) and ClientIP reads it back.

// The forwarding headers Proxies can read: exactly one is believed, so a
// client cannot add the other one to choose its own address.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded" // RFC 7239
)

// Proxies says whose forwarding header is believed: the TCP peers in Nets
// (AUTHD_TRUSTED_PROXIES), through Header (AUTHD_TRUSTED_PROXY_HEADER).
// The zero value trusts nobody: the address is the TCP peer.
type Proxies struct {
	Nets   []netip.Prefix
	Header string // HeaderXForwardedFor (when empty) or HeaderForwarded
}

// ParseProxyNets parses a comma-separated list of CIDRs (a bare address is
// its own /32 or /128).
func ParseProxyNets(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil && a.Zone() == "" {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, errors.New("is not a comma-separated list of CIDRs (e.g. 10.0.0.0/8, fd00::/8)")
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (p Proxies) trusts(a netip.Addr) bool {
	for _, n := range p.Nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve returns the client address of r: the TCP peer, unless the peer
// is a trusted proxy; then the rightmost hop of the forwarding header that
// is not a trusted proxy (walking right to left, each trusted proxy having
// appended the address it received the request from), or the leftmost hop
// when every hop is trusted. A header that is absent, malformed, or names an
// obfuscated or unknown hop (RFC 7239 "_hidden", "unknown") where the walk
// needs an address, gives the peer.
func (p Proxies) Resolve(r *http.Request) string {
	host := peerHost(r.RemoteAddr)
	if len(p.Nets) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !p.trusts(peer.Unmap()) {
		return host
	}
	var hops []string
	var ok bool
	if strings.EqualFold(p.Header, HeaderForwarded) {
		hops, ok = forwardedFor(r.Header.Values(HeaderForwarded))
	} else {
		hops, ok = xForwardedFor(r.Header.Values(HeaderXForwardedFor))
	}
	if !ok || len(hops) == 0 {
		return host
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return host
		}
		if i == 0 || !p.trusts(a) {
			return a.String()
		}
	}
	return host
}

type clientIPKey struct{}

// Middleware resolves the client address of each request once and keeps it
// in the request's context for ClientIP.
func (p Proxies) Middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), clientIPKey{}, p.Resolve(r))
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ClientIP is the address of the caller, as Proxies.Middleware resolved it
// (the TCP peer when the middleware did not run). Every place that records
// or limits by address uses it.
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return peerHost(r.RemoteAddr)
}

func peerHost(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// xForwardedFor splits X-Forwarded-For lines into hops, in order; an empty
// hop makes the header malformed.
func xForwardedFor(lines []string) ([]string, bool) {
	var hops []string
	for _, l := range lines {
		for _, h := range strings.Split(l, ",") {
			h = strings.TrimSpace(h)
			if h == "" {
				return nil, false
			}
			hops = append(hops, h)
		}
	}
	return hops, true
}

// forwardedFor returns the for= value of every element of Forwarded lines
// (RFC 7239 §4: elements separated by commas, pairs by semicolons, values
// tokens or quoted strings), in order. An element without for=, or a
// syntax error, makes the header malformed.
func forwardedFor(lines []string) ([]string, bool) {
	var hops []string
	for _, l := range lines {
		elems, ok := splitQuoted(l, ',')
		if !ok {
			return nil, false
		}
		for _, e := range elems {
			v, ok := forParam(e)
			if !ok {
				return nil, false
			}
			hops = append(hops, v)
		}
	}
	return hops, true
}

// forParam is the (unquoted) value of an element's for parameter.
func forParam(elem string) (string, bool) {
	pairs, _ := splitQuoted(elem, ';')
	for _, pair := range pairs {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
			continue
		}
		return unquote(strings.TrimSpace(v))
	}
	return "", false
}

// splitQuoted splits s at sep outside quoted strings; an unterminated
// quote is an error.
func splitQuoted(s string, sep byte) ([]string, bool) {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if quoted {
		return nil, false
	}
	return append(out, s[start:]), true
}

// unquote undoes an RFC 7230 quoted-string (a token is returned as is).
func unquote(v string) (string, bool) {
	if !strings.HasPrefix(v, `"`) {
		return v, v != "" && !strings.ContainsAny(v, "\"\\")
	}
	if len(v) < 2 || !strings.HasSuffix(v, `"`) {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		if v[i] == '\\' {
			i++
			if i == len(v)-1 {
				return "", false
			}
		}
		b.WriteByte(v[i])
	}
	return b.String(), true
}

// parseHop reads one hop: an IPv4 or IPv6 address, with or without a port,
// IPv6 optionally in brackets ("[2001:db8::1]:4711"). Obfuscated and
// unknown identifiers, zones and anything else are not addresses.
func parseHop(h string) (netip.Addr, bool) {
	host := h
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 || !validPort(h[end+1:]) {
			return netip.Addr{}, false
		}
		host = h[1:end]
	} else if strings.Count(h, ":") == 1 {
		var port string
		host, port, _ = strings.Cut(h, ":")
		if !validPort(":" + port) {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" || (strings.HasPrefix(h, "[") && !a.Is6()) {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// validPort: nothing, or ":" and a port number or an RFC 7239 obfuscated
// port ("_abc").
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) < 2 || len(s) > 33 {
		return false
	}
	p := s[1:]
	digits := p[0] != '_'
	if digits && len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= '0' && c <= '9':
		case !digits && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}
