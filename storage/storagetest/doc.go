// Package storagetest owns the tests' access to the real Postgres, Redis and
// Redis Cluster that `make test` starts, isolating each test: a fresh
// Postgres schema or a unique Redis key prefix, removed when the test ends.
// It also has the helpers of the outage tests (FreePort, WantUnavailable).
//
// When a service is unreachable the test is skipped, unless the CI
// environment variable is set, in which case it fails: CI must never pass by
// silently skipping storage tests.
package storagetest
