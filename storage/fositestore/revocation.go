package fositestore

import (
	"context"

	"github.com/ory/fosite"
)

type revocationKey struct{}

// WithRevocation marks ctx as an RFC 7009 revocation request. The refresh
// token lookup then also finds a token whose rotation is in flight (or just
// finished, inside the retry window), so that a revocation racing a refresh
// of the same grant revokes the grant rather than answering "unknown token"
// while the refresh issues live tokens.
func WithRevocation(ctx context.Context) context.Context {
	return context.WithValue(ctx, revocationKey{}, true)
}

func isRevocation(ctx context.Context) bool {
	v, _ := ctx.Value(revocationKey{}).(bool)
	return v
}

// rotatingRequest returns the request of the family whose refresh token sg
// is being rotated, for a revocation; fosite then checks the client and
// revokes the grant by its id.
func (s *Store) rotatingRequest(ctx context.Context, sg sig, session fosite.Session) (fosite.Requester, bool) {
	b, err := s.redis.RotatingRequest(ctx, sg.grant, sg.gen)
	if err != nil {
		return nil, false
	}
	r, err := s.decode(ctx, b, session)
	if err != nil || r.GetID() != sg.grant {
		return nil, false
	}
	return r, true
}
