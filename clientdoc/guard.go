package clientdoc

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// ErrForbiddenAddress: the document's host resolved to an address authd
// never fetches from (special-use, RFC 6890).
var ErrForbiddenAddress = errors.New("clientdoc: address not allowed")

// specialUse are the special-use ranges (RFC 6890 and its updates) that
// netip's predicates do not already cover: shared (CGNAT), IETF protocol
// assignments, documentation, benchmarking, reserved, and the IPv6
// translation and tunnelling prefixes that embed IPv4 addresses.
var specialUse = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// Public says whether authd may fetch a document from ip: a globally
// routable unicast address, not loopback, private (10/8, 172.16/12,
// 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), unspecified,
// multicast or any other special-use range. An IPv4-mapped IPv6 address is
// judged as its IPv4 address.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsMulticast() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	if ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	for _, p := range specialUse {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// dialGuard is a net.Dialer Control: it runs after name resolution, on the
// very address about to be dialled, so a name that resolves to a public
// address once and to a private one the next time (DNS rebinding) is still
// refused. allowPrivate (AUTHD_CLIENT_ID_METADATA_ALLOW_PRIVATE, tests and
// development only) lets every address through.
func dialGuard(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %q is not an address", ErrForbiddenAddress, address)
		}
		if !allowPrivate && !Public(ap.Addr()) {
			return fmt.Errorf("%w: %s is not a public address", ErrForbiddenAddress, ap.Addr())
		}
		return nil
	}
}
