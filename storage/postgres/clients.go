package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authd/authd/storage"
)

const clientCols = `id, name, secret_hash, public, redirect_uris, grant_types, response_types,
	scopes, audience, token_endpoint_auth_method, introspect, created_at,
	access_token_format, jwks, jwks_uri, id_token_signed_response_alg,
	post_logout_redirect_uris, cors_origins, previous_secret_hash, previous_secret_expires_at, resource,
	backchannel_logout_uri, backchannel_logout_session_required, frontchannel_logout_uri`

func scanClient(row pgx.Row) (storage.Client, error) {
	var c storage.Client
	var prevExp *time.Time
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.RedirectURIs, &c.GrantTypes,
		&c.ResponseTypes, &c.Scopes, &c.Audience, &c.TokenEndpointAuthMethod, &c.Introspect, &c.CreatedAt,
		&c.AccessTokenFormat, &c.JWKS, &c.JWKSURI, &c.IDTokenAlg,
		&c.PostLogoutRedirectURIs, &c.CORSOrigins, &c.PreviousSecretHash, &prevExp, &c.Resource,
		&c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired, &c.FrontchannelLogoutURI)
	if prevExp != nil {
		c.PreviousSecretExpiresAt = *prevExp
	}
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
	if err := insertClient(ctx, db.pool, c); err != nil {
		return wrap("create client", err)
	}
	return nil
}

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertClient writes the row of c (CreatedAt set).
func insertClient(ctx context.Context, db execer, c *storage.Client) error {
	_, err := db.Exec(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, NULL, NULL, $19, $20, $21, $22)`,
		c.ID, c.Name, c.SecretHash, c.Public, texts(c.RedirectURIs), texts(c.GrantTypes),
		texts(c.ResponseTypes), texts(c.Scopes), texts(c.Audience), c.TokenEndpointAuthMethod,
		c.Introspect, c.CreatedAt, orDefault(c.AccessTokenFormat, "opaque"), jsonOrNil(c.JWKS), c.JWKSURI,
		orDefault(c.IDTokenAlg, "RS256"), texts(c.PostLogoutRedirectURIs), texts(c.CORSOrigins), c.Resource,
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.FrontchannelLogoutURI)
	return err
}

// GetClient returns the client with the given id, or storage.ErrNotFound.
func (db *DB) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	c, err := scanClient(db.pool.QueryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1`, id))
	if err != nil {
		return nil, wrap("get client", err)
	}
	return &c, nil
}

// UpdateClient applies u to the client id and stores the result when it
// passes storage.Client.Validate (the checks of a new registration; an
// *storage.InvalidClientError otherwise), in one transaction that holds the
// row. Only what u can change is written: never the secret, the keys, the
// creation time, or the client's grants and consents. It returns the client
// as stored, or storage.ErrNotFound.
func (db *DB) UpdateClient(ctx context.Context, id string, u storage.ClientUpdate) (*storage.Client, error) {
	var out storage.Client
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		c, err := scanClient(tx.QueryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		out = u.Apply(c)
		if err := out.Validate(); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE clients SET name = $2, redirect_uris = $3, post_logout_redirect_uris = $4,
			scopes = $5, grant_types = $6, response_types = $7, cors_origins = $8, access_token_format = $9,
			id_token_signed_response_alg = $10, introspect = $11, audience = $12, resource = $13,
			backchannel_logout_uri = $14, backchannel_logout_session_required = $15, frontchannel_logout_uri = $16
			WHERE id = $1`,
			id, out.Name, texts(out.RedirectURIs), texts(out.PostLogoutRedirectURIs), texts(out.Scopes),
			texts(out.GrantTypes), texts(out.ResponseTypes), texts(out.CORSOrigins), out.AccessTokenFormat,
			out.IDTokenAlg, out.Introspect, texts(out.Audience), out.Resource, out.BackchannelLogoutURI,
			out.BackchannelLogoutSessionRequired, out.FrontchannelLogoutURI)
		return err
	})
	var invalid *storage.InvalidClientError
	if errors.As(err, &invalid) {
		return nil, err
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("update client %q", id), err)
	}
	return &out, nil
}

// RotateClientSecret makes hash the client's secret. The secret it
// replaces stays valid until overlapUntil (a zero or past time: it ends
// now); a secret rotated away earlier and still in its overlap ends now
// (there is one previous secret at most). storage.ErrNoSecret for a client without
// a secret, storage.ErrNotFound for no client.
func (db *DB) RotateClientSecret(ctx context.Context, id string, hash []byte, overlapUntil time.Time) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var old []byte
		var public bool
		var method string
		err := tx.QueryRow(ctx, `SELECT secret_hash, public, token_endpoint_auth_method FROM clients WHERE id = $1 FOR UPDATE`,
			id).Scan(&old, &public, &method)
		if err != nil {
			return err
		}
		if public || method == "private_key_jwt" || len(old) == 0 {
			return storage.ErrNoSecret
		}
		var prev []byte
		var until *time.Time
		if overlapUntil.After(time.Now()) {
			prev, until = old, &overlapUntil
		}
		_, err = tx.Exec(ctx, `UPDATE clients SET secret_hash = $2, previous_secret_hash = $3,
			previous_secret_expires_at = $4 WHERE id = $1`, id, hash, prev, until)
		return err
	})
	if errors.Is(err, storage.ErrNoSecret) {
		return err
	}
	if err != nil {
		return wrap(fmt.Sprintf("rotate secret of client %q", id), err)
	}
	return nil
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
