// Package outage owns the part of recognising a backend outage that Redis and
// Postgres share: failures of the network connection itself (refused, reset,
// broken pipe, a dead pooled connection's EOF, timeouts). The drivers
// (storage/redisstore, storage/postgres) add their own driver-specific cases
// and wrap what they recognise with storage.ErrUnavailable through Mark.
//
// Nothing here looks at error text: every test is errors.Is or errors.As on
// a sentinel or a concrete type.
package outage
