// Package fositestore owns the adapter between fosite and authd's stores: it
// implements fosite's storage interfaces over storage/redisstore (token
// state) and storage/postgres (grant rows, clients), and is the one place
// fosite requests are (de)serialised and storage errors are mapped to
// fosite's sentinels (storage.ErrStale to fosite.ErrSerializationFailure,
// not-found to fosite.ErrNotFound; storage.ErrUnavailable passes through).
//
// Its conformance suite (conformance_test.go) runs on the single Redis and
// on a Redis Cluster.
package fositestore
