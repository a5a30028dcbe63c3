package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/storage"
)

const keyCols = `id, alg, private_key_encrypted, public_key_pem, created_at, active_at, retired_at`

// InsertSigningKey stores k, setting k.CreatedAt to now when zero and
// k.ActiveAt to k.CreatedAt when zero. It returns storage.ErrConflict when a
// key with k.ID exists.
func (db *DB) InsertSigningKey(ctx context.Context, k *storage.SigningKey) error {
	if k.ID == "" {
		return errors.New("postgres: insert signing key: empty id")
	}
	k.CreatedAt = orNow(k.CreatedAt)
	if k.ActiveAt.IsZero() {
		k.ActiveAt = k.CreatedAt
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO signing_keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.Alg, k.PrivateKeyEncrypted, k.PublicKeyPEM, k.CreatedAt, k.ActiveAt, k.RetiredAt)
	if err != nil {
		return wrap("insert signing key", err)
	}
	return nil
}

// ListSigningKeys returns every key, retired ones included, oldest first.
func (db *DB) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	rows, _ := db.pool.Query(ctx, `SELECT `+keyCols+` FROM signing_keys ORDER BY created_at, id`)
	ks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.SigningKey, error) {
		var k storage.SigningKey
		err := r.Scan(&k.ID, &k.Alg, &k.PrivateKeyEncrypted, &k.PublicKeyPEM, &k.CreatedAt, &k.ActiveAt, &k.RetiredAt)
		return k, err
	})
	if err != nil {
		return nil, wrap("list signing keys", err)
	}
	return ks, nil
}

// RetireSigningKey marks the key retired at the given time (now when zero);
// a key already retired keeps its first retirement time. It returns
// storage.ErrNotFound when no such key exists.
func (db *DB) RetireSigningKey(ctx context.Context, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE signing_keys SET retired_at = COALESCE(retired_at, $2) WHERE id = $1`,
		id, orNow(at))
	if err != nil {
		return wrap("retire signing key", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: retire signing key %q: %w", id, storage.ErrNotFound)
	}
	return nil
}
