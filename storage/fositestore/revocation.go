package fositestore

import (
	"context"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/token"
)

type revocationKey struct{}

// revocation is the state of one RFC 7009 request (fosite calls storage
// sequentially within it).
type revocation struct {
	// revoked is the grant this request already revoked: fosite calls both
	// RevokeRefreshToken and RevokeAccessToken with the same request id,
	// and for authd both revoke the whole grant, so the second is a no-op
	// instead of a second run of the revocation script.
	revoked string
}

// WithRevocation marks ctx as an RFC 7009 revocation request. The refresh
// token lookup then also finds a token whose rotation is in flight (or just
// finished, inside the retry window), so that a revocation racing a refresh
// of the same grant revokes the grant rather than answering "unknown token"
// while the refresh issues live tokens. Use one such context per request.
func WithRevocation(ctx context.Context) context.Context {
	return context.WithValue(ctx, revocationKey{}, &revocation{})
}

func revocationOf(ctx context.Context) *revocation {
	v, _ := ctx.Value(revocationKey{}).(*revocation)
	return v
}

func isRevocation(ctx context.Context) bool { return revocationOf(ctx) != nil }

// revokeForClient revokes grant for an RFC 7009 request, once per request.
func (s *Store) revokeForClient(ctx context.Context, grant string) error {
	rv := revocationOf(ctx)
	if rv != nil && rv.revoked == grant {
		return nil
	}
	if err := s.revoke(ctx, grant, storage.RevokedByClient); err != nil {
		return err
	}
	if rv != nil {
		rv.revoked = grant
	}
	return nil
}

// rotatingRequest returns the request of the family whose refresh token sg
// is being rotated, for a revocation; fosite then checks the client and
// revokes the grant by its id.
func (s *Store) rotatingRequest(ctx context.Context, sg token.Signature, session fosite.Session) (fosite.Requester, bool) {
	b, err := s.redis.RotatingRequest(ctx, sg.Grant, sg.Gen)
	if err != nil {
		return nil, false
	}
	r, err := s.decode(ctx, b, session)
	if err != nil || r.GetID() != sg.Grant {
		return nil, false
	}
	return r, true
}
