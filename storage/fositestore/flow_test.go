package fositestore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"

	"github.com/authd/authd/oauth"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

// TestRefreshThroughFositeCounts runs refreshes through fosite's own
// refresh handler over the adapter and counts what one costs. In a request
// context marked by fositestore.WithTokenRequest (the token endpoint's) the
// presented refresh token's MAC is checked once and the client looked up
// once; the writes (rotation, new access token, new refresh token) are one
// Redis script after the family's read: 2 round trips, no Postgres.
func TestRefreshThroughFositeCounts(t *testing.T) {
	e := newEnv(t)
	pub := &storage.Client{ID: "pub", Public: true, GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "offline_access"}, RedirectURIs: []string{"http://127.0.0.1/cb"}}
	if err := e.db.CreateClient(context.Background(), pub); err != nil {
		t.Fatal(err)
	}
	fc := &fosite.Config{
		AccessTokenLifespan: time.Hour, RefreshTokenLifespan: 24 * time.Hour,
		ScopeStrategy: fosite.ExactScopeStrategy, AudienceMatchingStrategy: fosite.DefaultAudienceMatchingStrategy,
		RefreshTokenScopes: oauth.RefreshScopes,
	}
	provider := compose.Compose(fc, e.store, &compose.CommonStrategy{CoreStrategy: e.strategy}, compose.OAuth2RefreshTokenGrantFactory)
	ctx := context.Background()
	rt := e.bornFor(t, ctx, "pub", uuid.NewString())
	refresh := func(ctx context.Context) {
		t.Helper()
		body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"pub"}}.Encode()
		req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		ar, err := provider.NewAccessRequest(ctx, req, oauth.NewSession())
		if err != nil {
			t.Fatalf("access request: %v", err)
		}
		resp, err := provider.NewAccessResponse(ctx, ar)
		if err != nil {
			t.Fatalf("access response: %v", err)
		}
		rt, _ = resp.GetExtra("refresh_token").(string)
	}
	refresh(fositestore.WithTokenRequest(ctx)) // loads the refresh script
	for _, c := range []struct {
		name              string
		ctx               context.Context
		macs, lookups, rt int64
	}{
		// Without the memo: fosite computes the token's signature twice and
		// validates it once; it looks the client up to authenticate it and
		// the stored request names it again.
		{"without the request memo", ctx, 3, 2, 2},
		{"in the token endpoint's context", fositestore.WithTokenRequest(ctx), 1, 1, 2},
	} {
		macs, lookups := e.strategy.Verified(), e.clients.Lookups()
		e.rt.n.Store(0)
		e.pg.n.Store(0)
		refresh(c.ctx)
		gotMACs, gotLookups, gotRT := e.strategy.Verified()-macs, e.clients.Lookups()-lookups, e.rt.n.Load()
		t.Logf("%s: %d MAC checks, %d client lookups, %d Redis round trips, %d Postgres queries", c.name, gotMACs, gotLookups, gotRT, e.pg.n.Load())
		if gotMACs != c.macs || gotLookups != c.lookups || gotRT != c.rt || e.pg.n.Load() != 0 {
			t.Errorf("%s: %d MAC checks, %d client lookups, %d round trips, %d Postgres queries; want %d, %d, %d, 0",
				c.name, gotMACs, gotLookups, gotRT, e.pg.n.Load(), c.macs, c.lookups, c.rt)
		}
	}
}
