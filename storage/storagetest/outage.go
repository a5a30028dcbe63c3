package storagetest

import (
	"errors"
	"net"
	"testing"

	"github.com/authd/authd/storage"
)

// FreePort returns a loopback TCP port that was free a moment ago: a port
// nothing listens on, for a store that must find its backend down, or for a
// server of the test's own.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WantUnavailable fails the test unless err is storage.ErrUnavailable and,
// when cause is not nil, still carries cause (the driver's own error).
func WantUnavailable(t testing.TB, what string, err, cause error) {
	t.Helper()
	t.Logf("%s: %v", what, err)
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("%s: %v, want storage.ErrUnavailable", what, err)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Errorf("%s: %v does not wrap %v", what, err, cause)
	}
}
