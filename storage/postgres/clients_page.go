package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/storage"
)

// ListClientsAfter returns at most limit clients whose id sorts after
// after ("" from the start), ordered by id: one page of a listing.
func (db *DB) ListClientsAfter(ctx context.Context, after string, limit int) ([]storage.Client, error) {
	rows, _ := db.pool.Query(ctx, `SELECT `+clientCols+` FROM clients WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Client, error) { return scanClient(r) })
	if err != nil {
		return nil, wrap("list clients", err)
	}
	return cs, nil
}
