package fositestore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"

	"github.com/authd/authd/oauth"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

// testRevocationFindsRotationInFlight: a refresh token whose rotation is in
// flight is "not found" for a concurrent refresh (it loses without revoking
// anything) but found for a revocation, which then ends the grant before the
// refresh can write its new tokens.
func testRevocationFindsRotationInFlight(t *testing.T, e *env) {
	ctx := context.Background()
	_, rt := e.born(t, ctx, grantID)
	sig := e.strategy.RefreshTokenSignature(ctx, rt)
	if err := e.store.RotateRefreshToken(ctx, grantID, sig); err != nil { // the winner, mid-flight
		t.Fatal(err)
	}

	if _, err := e.store.GetRefreshTokenSession(ctx, sig, oauth.NewSession()); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("concurrent refresh during the rotation: %v, want ErrNotFound", err)
	}
	rctx := fositestore.WithRevocation(ctx)
	r, err := e.store.GetRefreshTokenSession(rctx, sig, nil)
	if err != nil {
		t.Fatalf("revocation during the rotation: %v", err)
	}
	if r.GetID() != grantID || r.GetClient().GetID() != "app" {
		t.Fatalf("revocation found request %q of client %q", r.GetID(), r.GetClient().GetID())
	}
	if err := e.store.RevokeRefreshToken(rctx, r.GetID()); err != nil {
		t.Fatal(err)
	}
	// The winner now tries to finish: its writes are refused.
	w := e.request("refresh_token", grantID)
	_, atSig, _ := e.strategy.GenerateAccessToken(ctx, w)
	if err := e.store.CreateAccessTokenSession(ctx, atSig, w); !errors.Is(err, storage.ErrRevoked) {
		t.Errorf("winner's access token after the revocation: %v, want ErrRevoked", err)
	}
	// A forged or unrelated token is still not found for a revocation.
	other := e.strategy.RefreshTokenSignature(ctx, "authd_rt_"+grantID+".7.x.y")
	if _, err := e.store.GetRefreshTokenSession(rctx, other, nil); err == nil {
		t.Error("a token with a bad MAC was found for a revocation")
	}
}
