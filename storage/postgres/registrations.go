package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/storage"
)

// CreateRegisteredClient is CreateClient for a client registered over
// RFC 7591: the hash of its registration access token is stored with it,
// in one transaction (storage.ErrConflict when the id is taken).
func (db *DB) CreateRegisteredClient(ctx context.Context, c *storage.Client, tokenHash []byte) error {
	if c.ID == "" || len(tokenHash) == 0 {
		return errors.New("postgres: create registered client: empty id or token hash")
	}
	c.CreatedAt = orNow(c.CreatedAt)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := insertClient(ctx, tx, c); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO client_registrations (client_id, token_hash, created_at) VALUES ($1, $2, $3)`,
			c.ID, tokenHash, c.CreatedAt)
		return err
	})
	if err != nil {
		return wrap("create registered client", err)
	}
	return nil
}

// RegistrationTokenHash returns the hash of the registration access token
// of the client id: storage.ErrNotFound when there is no such client or it
// was not registered over RFC 7591.
func (db *DB) RegistrationTokenHash(ctx context.Context, clientID string) ([]byte, error) {
	var h []byte
	err := db.pool.QueryRow(ctx, `SELECT token_hash FROM client_registrations WHERE client_id = $1`, clientID).Scan(&h)
	if err != nil {
		return nil, wrap(fmt.Sprintf("registration of client %q", clientID), err)
	}
	return h, nil
}
