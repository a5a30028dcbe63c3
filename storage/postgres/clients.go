package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/storage"
)

const clientCols = `id, name, secret_hash, public, redirect_uris, grant_types, response_types,
	scopes, audience, token_endpoint_auth_method, introspect, created_at,
	access_token_format, jwks, jwks_uri, id_token_signed_response_alg`

func scanClient(row pgx.Row) (storage.Client, error) {
	var c storage.Client
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.RedirectURIs, &c.GrantTypes,
		&c.ResponseTypes, &c.Scopes, &c.Audience, &c.TokenEndpointAuthMethod, &c.Introspect, &c.CreatedAt,
		&c.AccessTokenFormat, &c.JWKS, &c.JWKSURI, &c.IDTokenAlg)
	return c, err
}

// CreateClient stores c, setting c.CreatedAt to now when it is zero. It
// returns storage.ErrConflict when a client with c.ID exists. A confidential
// client (Public false) must have a SecretHash.
func (db *DB) CreateClient(ctx context.Context, c *storage.Client) error {
	if c.ID == "" {
		return errors.New("postgres: create client: empty id")
	}
	c.CreatedAt = orNow(c.CreatedAt)
	_, err := db.pool.Exec(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.ID, c.Name, c.SecretHash, c.Public, texts(c.RedirectURIs), texts(c.GrantTypes),
		texts(c.ResponseTypes), texts(c.Scopes), texts(c.Audience), c.TokenEndpointAuthMethod,
		c.Introspect, c.CreatedAt, orDefault(c.AccessTokenFormat, "opaque"), jsonOrNil(c.JWKS), c.JWKSURI,
		orDefault(c.IDTokenAlg, "RS256"))
	if err != nil {
		return wrap("create client", err)
	}
	return nil
}

// GetClient returns the client with the given id, or storage.ErrNotFound.
func (db *DB) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	c, err := scanClient(db.pool.QueryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1`, id))
	if err != nil {
		return nil, wrap("get client", err)
	}
	return &c, nil
}

// ListClients returns every client ordered by id.
func (db *DB) ListClients(ctx context.Context) ([]storage.Client, error) {
	rows, _ := db.pool.Query(ctx, `SELECT `+clientCols+` FROM clients ORDER BY id`)
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Client, error) { return scanClient(r) })
	if err != nil {
		return nil, wrap("list clients", err)
	}
	return cs, nil
}

// DeleteClient deletes the client and, in the same transaction, its consents
// (so a client later registered under the same id must ask again) and
// revokes its live grants with reason storage.RevokedByAdmin. Grant rows are
// kept for audit. It returns storage.ErrNotFound when no such client exists.
//
// Revoking the grants here only marks the rows; the caller must also drop
// the grants' tokens from the session store.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		_, err = tx.Exec(ctx, `UPDATE grants SET revoked_at = $2, revoke_reason = $3
			WHERE client_id = $1 AND revoked_at IS NULL`, id, now(), storage.RevokedByAdmin)
		return err
	})
	if err != nil {
		return wrap(fmt.Sprintf("delete client %q", id), err)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// jsonOrNil stores an empty key set as SQL NULL.
func jsonOrNil(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
