package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/storage"
)

// GetConsent returns the scopes subject has approved for the client, sorted,
// or storage.ErrNotFound when the subject never consented.
func (db *DB) GetConsent(ctx context.Context, subject, clientID string) ([]string, error) {
	var scopes []string
	err := db.pool.QueryRow(ctx, `SELECT scopes FROM consents WHERE subject = $1 AND client_id = $2`,
		subject, clientID).Scan(&scopes)
	if err != nil {
		return nil, wrap("get consent", err)
	}
	return scopes, nil
}

// SaveConsent records that subject approved scopes for the client, adding
// them to any scopes approved before (the stored set is the sorted union).
// It returns storage.ErrNotFound when the client does not exist.
func (db *DB) SaveConsent(ctx context.Context, subject, clientID string, scopes []string) error {
	scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	_, err := db.pool.Exec(ctx, `INSERT INTO consents (subject, client_id, scopes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (subject, client_id) DO UPDATE SET
			scopes = ARRAY(SELECT DISTINCT s FROM unnest(consents.scopes || EXCLUDED.scopes) AS s ORDER BY s),
			updated_at = EXCLUDED.updated_at`,
		subject, clientID, texts(scopes), now())
	if isCode(err, codeForeignKeyViolation) {
		return fmt.Errorf("postgres: save consent: client %q: %w", clientID, storage.ErrNotFound)
	}
	if err != nil {
		return wrap("save consent", err)
	}
	return nil
}

// ListConsents returns the consents subject remembers, one per client with
// its name, the scopes approved (sorted) and when it was last changed,
// oldest first (by the consents primary key and the clients' key).
func (db *DB) ListConsents(ctx context.Context, subject string) ([]storage.Consent, error) {
	rows, _ := db.pool.Query(ctx, `SELECT c.client_id, cl.name, c.scopes, c.created_at, c.updated_at
		FROM consents c JOIN clients cl ON cl.id = c.client_id
		WHERE c.subject = $1 ORDER BY c.created_at, c.client_id`, subject)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Consent, error) {
		c := storage.Consent{Subject: subject}
		err := row.Scan(&c.ClientID, &c.ClientName, &c.Scopes, &c.CreatedAt, &c.UpdatedAt)
		return c, err
	})
	if err != nil {
		return nil, wrap("list consents", err)
	}
	return out, nil
}

// DeleteConsent forgets what subject approved for the client: the next
// authorization asks again. storage.ErrNotFound when nothing was
// remembered.
func (db *DB) DeleteConsent(ctx context.Context, subject, clientID string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM consents WHERE subject = $1 AND client_id = $2`, subject, clientID)
	if err != nil {
		return wrap("delete consent", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete consent: %w", storage.ErrNotFound)
	}
	return nil
}
