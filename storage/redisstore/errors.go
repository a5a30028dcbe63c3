package redisstore

import (
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/internal/outage"
)

// scriptResult maps the status a compare-and-set script returns to the
// store's errors.
func scriptResult(r string) error {
	switch r {
	case "ok":
		return nil
	case "revoked":
		return storage.ErrRevoked
	case "missing":
		return ErrNotFound
	case "stale":
		return storage.ErrStale
	}
	return fmt.Errorf("redisstore: unexpected script result %q", r)
}

// wrap prefixes a go-redis error with the operation, marking it with
// storage.ErrUnavailable when Redis could not answer now (see unavailable).
// The original error stays in the chain.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case unavailable(err):
		return fmt.Errorf("redisstore: %s: %w", op, outage.Mark(err))
	default:
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
}

// unavailable reports whether err means Redis is down or cannot answer now:
// a connection failure (outage.Network), a closed client, or a reply that
// says "not now": a cluster failing over (CLUSTERDOWN, TRYAGAIN), a node
// still loading its data (LOADING), a replica that lost its master
// (MASTERDOWN) or a former master now a replica (READONLY). go-redis's
// Is*Error helpers test its typed replies with errors.As.
func unavailable(err error) bool {
	return outage.Network(err) || errors.Is(err, redis.ErrClosed) ||
		redis.IsClusterDownError(err) || redis.IsTryAgainError(err) || redis.IsLoadingError(err) ||
		redis.IsMasterDownError(err) || redis.IsReadOnlyError(err)
}
