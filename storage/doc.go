// Package storage owns authd's records (clients, users, grants, signing keys,
// consents, grant usage, browser sessions, back-channel logout jobs), the
// sentinel errors every store returns (ErrNotFound, ErrConflict,
// ErrRevoked, ErrStale, ErrUnavailable), and how secrets are kept at rest
// (password and client-secret hashing). It imports no driver.
//
// Its sub-packages keep the records: postgres the durable ones, redisstore
// the short-lived token and session state, fositestore adapts both to
// fosite's storage interfaces, and storagetest connects tests to the real
// services. The drivers turn their failures into the sentinels: callers test
// errors.Is(err, storage.ErrUnavailable) for an outage, never the error's
// text or type.
package storage
