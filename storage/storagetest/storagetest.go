package storagetest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// randomHex returns 16 random hex characters.
func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// unavailable fails the test in CI and skips it elsewhere.
func unavailable(t testing.TB, service, url string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("storagetest: %s at %s unreachable: %v", service, url, err)
	}
	t.Skipf("storagetest: %s at %s unreachable (%v); run `make test` to start the test services", service, url, err)
}
