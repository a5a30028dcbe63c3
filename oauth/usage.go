package oauth

import (
	"context"
	"time"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

// UsageRecorder notes a grant's latest use (time, client IP, User-Agent)
// somewhere cheap (Redis); a background flusher writes usages to Postgres in
// batches, so the refresh path never waits on Postgres.
type UsageRecorder interface {
	RecordUsage(ctx context.Context, grant, ip, userAgent string, at, expires time.Time) error
}

// recordUsage notes a successful refresh of ar's grant. A failure costs only
// the "last active" information, so it is logged, not returned.
func (s *Server) recordUsage(ctx context.Context, ar fosite.AccessRequester) {
	if s.usage == nil || !ar.GetGrantTypes().ExactOne("refresh_token") {
		return
	}
	m := storage.RequestMetaFrom(ctx)
	// The session carries the rotated refresh token's end: the family's
	// new end, which the grant record follows.
	exp := ar.GetSession().GetExpiresAt(fosite.RefreshToken)
	if err := s.usage.RecordUsage(ctx, ar.GetID(), m.IP, m.UserAgent, time.Now(), exp); err != nil {
		s.log.WarnContext(ctx, "record grant usage", "err", err)
	}
}
