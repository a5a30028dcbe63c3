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

// bufferedRefresh does what fosite's refresh handler does up to its
// MaybeCommitTx: in a transaction, rotate rt and store the new tokens. It
// returns the transaction's context and the new access token.
func (e *env) bufferedRefresh(t *testing.T, ctx context.Context, id, rt string) (context.Context, string) {
	t.Helper()
	r := &fosite.AccessRequest{GrantTypes: fosite.Arguments{"refresh_token"}, Request: *e.request("refresh_token", id)}
	r.Form.Set("refresh_token", rt)
	at, atSig, _ := e.strategy.GenerateAccessToken(ctx, r)
	_, rtSig, _ := e.strategy.GenerateRefreshToken(ctx, r)
	tx, err := e.store.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.RotateRefreshToken(tx, id, e.strategy.RefreshTokenSignature(ctx, rt)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateAccessTokenSession(tx, atSig, r.Sanitize(nil)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateRefreshTokenSession(tx, rtSig, atSig, r.Sanitize(nil)); err != nil {
		t.Fatal(err)
	}
	return tx, at
}

// TestRefreshTransaction: a refresh's writes wait for Commit and happen
// together; the tombstone and the compare-and-set are checked there, so a
// grant revoked meanwhile stays revoked and of two refreshes with the same
// token one commits, the other loses without revoking anything. Rollback
// writes nothing.
func TestRefreshTransaction(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	at, rt := e.born(t, ctx, grantID)

	tx, _ := e.bufferedRefresh(t, ctx, grantID, rt)
	if err := e.store.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Commit(tx); err != nil { // nothing left to commit
		t.Fatal(err)
	}
	if !e.accessActive(ctx, at) {
		t.Fatal("a rolled-back refresh retired the access token")
	}

	first, at1 := e.bufferedRefresh(t, ctx, grantID, rt)
	second, at2 := e.bufferedRefresh(t, ctx, grantID, rt)
	if e.accessActive(ctx, at1) || !e.accessActive(ctx, at) {
		t.Fatal("a refresh wrote before its commit")
	}
	if err := e.store.Commit(first); err != nil {
		t.Fatalf("first commit: %v", err)
	}
	if err := e.store.Commit(second); !errors.Is(err, fosite.ErrSerializationFailure) {
		t.Fatalf("second commit with the same token: %v, want ErrSerializationFailure", err)
	}
	if !e.accessActive(ctx, at1) || e.accessActive(ctx, at2) || e.accessActive(ctx, at) {
		t.Fatal("after the race: want only the winner's access token active")
	}
	if g, _ := e.db.GetGrant(ctx, grantID); g.RevokedAt != nil {
		t.Fatal("the loser revoked the grant")
	}

	// A refresh whose checks passed before a revocation commits nothing.
	const other = "7d1c2a64-0000-4000-8000-000000000002"
	_, live := e.born(t, ctx, other)
	late, at3 := e.bufferedRefresh(t, ctx, other, live)
	if err := e.grants.Revoke(ctx, other, "test"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Commit(late); !errors.Is(err, storage.ErrRevoked) {
		t.Fatalf("commit into a revoked grant: %v, want ErrRevoked", err)
	}
	if e.accessActive(ctx, at3) {
		t.Fatal("a refresh resurrected a revoked grant")
	}
	if _, err := e.store.GetRefreshTokenSession(ctx, e.strategy.RefreshTokenSignature(ctx, live), oauth.NewSession()); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("the revoked grant's refresh token: %v, want ErrNotFound", err)
	}
}

// TestTransactionWithoutRotationWritesAtOnce: the code exchange runs inside
// a transaction too; without a rotation nothing is buffered, every write is
// visible before Commit, as before transactions existed.
func TestTransactionWithoutRotationWritesAtOnce(t *testing.T) {
	e := newEnv(t)
	tx, err := e.store.BeginTX(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	at, _ := e.born(t, tx, grantID)
	if !e.accessActive(context.Background(), at) {
		t.Fatal("a code exchange's access token waited for Commit")
	}
	if err := e.store.Commit(tx); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentDuplicateIsNotReuse: a token request that began before the
// rotation of the token it presents ran concurrently with the rotating
// request: it is refused without revoking anything (as it was while the
// rotation was in flight, when the rotation took three scripts). One that
// began after the rotation is a replay and revokes the grant.
func TestConcurrentDuplicateIsNotReuse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, rt := e.born(t, ctx, grantID)
	oldSig := e.strategy.RefreshTokenSignature(ctx, rt)
	duplicate := fositestore.WithTokenRequest(ctx)
	if _, _, err := e.refresh(ctx, grantID, rt); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.GetRefreshTokenSession(duplicate, oldSig, oauth.NewSession()); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("a duplicate begun before the rotation: %v, want ErrNotFound", err)
	}
	if g, _ := e.db.GetGrant(ctx, grantID); g.RevokedAt != nil {
		t.Fatal("the concurrent duplicate revoked the grant")
	}
	replay := fositestore.WithTokenRequest(ctx)
	if _, err := e.store.GetRefreshTokenSession(replay, oldSig, oauth.NewSession()); !errors.Is(err, fosite.ErrInactiveToken) {
		t.Fatalf("a request begun after the rotation: %v, want reuse (ErrInactiveToken)", err)
	}
	if g, _ := e.db.GetGrant(ctx, grantID); g.RevokedAt == nil {
		t.Fatal("the replay did not revoke the grant")
	}
}
