package fositestore

import (
	"context"
	"time"

	"github.com/authd/authd/token"
)

type tokenRequestKey struct{}

// tokenRequest is one token endpoint request: when it began and what it has
// already looked up.
type tokenRequest struct {
	begun  time.Time
	client *Client
	// missing is a client id this request found no client for (asked
	// again, it is not looked up again: an https id would be fetched).
	missing string
}

// WithTokenRequest returns ctx marked as one token endpoint request's,
// beginning now. Within it the client is looked up once (ClientCache.Get)
// and the presented token's MAC is checked once (token.WithMemo), however
// often fosite and authd ask; and a refresh token that a concurrent
// duplicate of this request rotated away after it began is refused without
// being taken for reuse (redisstore.GetRefresh). Use one such context per
// request, from its handler goroutine only.
func WithTokenRequest(ctx context.Context) context.Context {
	return token.WithMemo(context.WithValue(ctx, tokenRequestKey{}, &tokenRequest{begun: time.Now()}))
}

func tokenRequestOf(ctx context.Context) *tokenRequest {
	m, _ := ctx.Value(tokenRequestKey{}).(*tokenRequest)
	return m
}

// tokenRequestBegun is when ctx's token request began (zero outside one).
func tokenRequestBegun(ctx context.Context) time.Time {
	if m := tokenRequestOf(ctx); m != nil {
		return m.begun
	}
	return time.Time{}
}
