package clientdoc

import (
	"errors"
	"net/netip"
	"testing"
)

// TestDialGuard: the guard refuses loopback, private, link-local,
// unspecified, multicast and other special-use addresses (IPv4-mapped
// ones as their IPv4 address) and lets public ones through; the test
// setting lets everything through.
func TestDialGuard(t *testing.T) {
	refused := []string{
		"127.0.0.1:443", "127.1.2.3:443", "10.0.0.1:443", "10.255.1.1:80", "172.16.0.1:443", "192.168.1.1:443",
		"169.254.169.254:80", "0.0.0.0:443", "100.64.0.1:443", "192.0.2.1:443", "198.18.0.1:443", "224.0.0.1:443",
		"255.255.255.255:443", "240.0.0.1:443",
		"[::1]:443", "[::]:443", "[fc00::1]:443", "[fd12:3456::1]:443", "[fe80::1]:443", "[ff02::1]:443",
		"[::ffff:127.0.0.1]:443", "[::ffff:10.0.0.1]:443", "[64:ff9b::a00:1]:443", "[2001:db8::1]:443", "[2002:a00:1::]:443",
		"not-an-address",
	}
	allowed := []string{"93.184.216.34:443", "8.8.8.8:443", "[2606:4700:4700::1111]:443", "[::ffff:8.8.8.8]:443"}
	guard := dialGuard(false)
	for _, a := range refused {
		if err := guard("tcp", a, nil); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: %v, want ErrForbiddenAddress", a, err)
		}
	}
	for _, a := range allowed {
		if err := guard("tcp", a, nil); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
	open := dialGuard(true)
	for _, a := range []string{"127.0.0.1:443", "10.0.0.1:443", "[::1]:443"} {
		if err := open("tcp", a, nil); err != nil {
			t.Errorf("allow-private: %s refused: %v", a, err)
		}
	}
	if Public(netip.Addr{}) {
		t.Error("the zero address is public")
	}
}
