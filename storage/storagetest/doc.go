// Package storagetest connects tests to the real Postgres and Redis that
// `make test` starts, isolating each test: a fresh Postgres schema or a
// unique Redis key prefix, removed when the test ends.
//
// When a service is unreachable the test is skipped, unless the CI
// environment variable is set, in which case it fails: CI must never pass by
// silently skipping storage tests.
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
