package oauth

import (
	"context"
	"time"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

// UsageRecorder notes a grant's latest use (time, client IP) somewhere cheap
// (Redis); a background flusher writes usages to Postgres in batches, so the
// refresh path never waits on Postgres. A refresh's User-Agent is not
// recorded: a grant's device is the browser that authorized it.
type UsageRecorder interface {
	RecordUsage(ctx context.Context, grant, ip string, at, expires time.Time) error
}

// recordUsage notes a successful refresh of ar's grant. A failure costs only
// the "last active" information, so it is logged, not returned.
func (s *Server) recordUsage(ctx context.Context, ar fosite.AccessRequester) {
	if s.usage == nil || !ar.GetGrantTypes().ExactOne("refresh_token") {
		return
	}
	ip := storage.RequestMetaFrom(ctx).IP
	// The session carries the rotated refresh token's end: the family's
	// new end, which the grant record follows.
	exp := ar.GetSession().GetExpiresAt(fosite.RefreshToken)
	if err := s.usage.RecordUsage(ctx, ar.GetID(), ip, time.Now(), exp); err != nil {
		s.log.WarnContext(ctx, "record grant usage", "err", err)
	}
}
