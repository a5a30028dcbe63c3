package redisstore

import (
	"context"
	"strconv"
)

// RotatingRequest returns the stored refresh request of a live family whose
// refresh token of generation gen is being rotated right now (the rotation
// is in flight) or was rotated away moments ago: the family's generation is
// gen+1. The revocation endpoint uses it so that revoking a token that a
// concurrent refresh is rotating still ends the grant, instead of being
// answered "unknown token" while the refresh goes on to issue live tokens.
// The payload names the grant's client, which the caller must check.
// ErrNotFound for anything else (the caller has already checked the token's
// MAC, so gen and grant are authentic).
func (s *Store) RotatingRequest(ctx context.Context, grant string, gen uint64) ([]byte, error) {
	v, err := s.rdb.HMGet(ctx, s.Key(grant, "f"), "g", "p", "r").Result()
	if err != nil {
		return nil, wrap("get rotating refresh", err)
	}
	gs, _ := v[0].(string)
	p, _ := v[1].(string)
	r, _ := v[2].(string)
	if gs == "" || p == "" || r == "1" {
		return nil, ErrNotFound
	}
	cur, err := strconv.ParseUint(gs, 10, 64)
	if err != nil || gen+1 != cur {
		return nil, ErrNotFound
	}
	return []byte(p), nil
}
