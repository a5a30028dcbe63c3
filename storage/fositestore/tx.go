package fositestore

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/token"
)

// fosite's refresh handler writes a refresh in three calls (rotate the
// presented token, store the new access token, store the new refresh token)
// between storage.MaybeBeginTx and MaybeCommitTx. The Store implements
// fosite's storage.Transactional so that a transaction holding a rotation
// buffers those three writes and Commit sends them as one Redis script
// (redisstore.RotateRefresh): one round trip instead of three, and no
// rotation ever left half done. A transaction without a rotation (the
// authorization code exchange, refresh-token reuse) buffers nothing: every
// call runs at once, exactly as without a transaction, and Commit has
// nothing to do.

var _ fositestorage.Transactional = (*Store)(nil)

type txKey struct{}

// refreshTx is one transaction's buffered refresh.
type refreshTx struct {
	rotate  *token.Signature // the presented refresh token, once RotateRefreshToken ran
	access  *pendingWrite
	refresh *pendingWrite
}

// pendingWrite is a new token waiting for Commit.
type pendingWrite struct {
	sig     token.Signature
	payload []byte
	ttl     time.Duration
	req     fosite.Requester // what payload encodes
}

// encode encodes r, or reuses the buffered access token's payload when r is
// the very request it encodes (fosite hands the access and the refresh token
// the same sanitised request). tx may be nil.
func (tx *refreshTx) encode(r fosite.Requester) ([]byte, error) {
	if tx != nil && tx.access != nil {
		if a, ok := tx.access.req.(*fosite.Request); ok {
			if b, ok := r.(*fosite.Request); ok && a == b {
				return tx.access.payload, nil
			}
		}
	}
	return encode(r)
}

// BeginTX starts a transaction (see above).
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	return context.WithValue(ctx, txKey{}, &refreshTx{}), nil
}

// rotationOf returns ctx's transaction when it holds a rotation for grant.
func rotationOf(ctx context.Context, grant string) *refreshTx {
	tx, _ := ctx.Value(txKey{}).(*refreshTx)
	if tx == nil || tx.rotate == nil || tx.rotate.Grant != grant {
		return nil
	}
	return tx
}

// bufferRotation records the rotation of sg in ctx's transaction, if any.
func bufferRotation(ctx context.Context, sg token.Signature) bool {
	tx, _ := ctx.Value(txKey{}).(*refreshTx)
	if tx == nil || tx.rotate != nil {
		return false
	}
	tx.rotate = &sg
	return true
}

// Commit writes a buffered refresh (nothing else is ever buffered).
func (s *Store) Commit(ctx context.Context) error {
	tx, _ := ctx.Value(txKey{}).(*refreshTx)
	if tx == nil || tx.rotate == nil {
		return nil
	}
	old, at, rt := *tx.rotate, tx.access, tx.refresh
	tx.rotate, tx.access, tx.refresh = nil, nil, nil
	if at == nil || rt == nil || rt.sig.Gen != old.Gen+1 {
		return errors.New("fositestore: a refresh transaction must rotate, then store one access and one refresh token")
	}
	return mapRevoked(s.redis.RotateRefresh(ctx, old.Grant, redisstore.Refresh{
		Gen: old.Gen, OldMAC: old.MAC,
		AccessMAC: at.sig.MAC, Access: at.payload, AccessTTL: at.ttl,
		RefreshMAC: rt.sig.MAC, Payload: rt.payload, RefreshTTL: rt.ttl,
	}))
}

// Rollback drops whatever the transaction buffered; nothing was written.
func (s *Store) Rollback(ctx context.Context) error {
	if tx, _ := ctx.Value(txKey{}).(*refreshTx); tx != nil {
		tx.rotate, tx.access, tx.refresh = nil, nil, nil
	}
	return nil
}
