package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/storage"
)

// The janitor's statements. Each touches a bounded number of rows, chosen
// through an index, so a pass over a large backlog is a series of short
// transactions that never hold many row locks or block the token paths.

// LiveGrantCursor pages through live grants by (expires_at, id).
type LiveGrantCursor struct {
	ExpiresAt time.Time
	ID        string
}

// LiveGrants returns at most limit ids of grants not revoked whose recorded
// expiry is at or before expiredBy, created before bornBefore (a grant's row
// is written just before its Redis family, so young rows are skipped), after
// cursor (zero: from the start), with the cursor of the next page (zero
// when this was the last). The janitor checks their families in Redis.
//
// It walks grants_live_expires_idx over the range up to expiredBy only, so a
// pass costs what has expired since, not the size of the table. Refresh
// tokens slide, but the usage flush moves expires_at forward with them; a
// grant whose flush is still pending is found again by the next pass, while
// its family is live it is left alone.
func (db *DB) LiveGrants(ctx context.Context, expiredBy, bornBefore time.Time, after LiveGrantCursor, limit int) ([]string, LiveGrantCursor, error) {
	if limit <= 0 {
		return nil, LiveGrantCursor{}, errors.New("postgres: live grants: limit must be positive")
	}
	rows, _ := db.pool.Query(ctx, `SELECT id, expires_at FROM grants
		WHERE revoked_at IS NULL AND expires_at <= @until AND created_at < @born
		  AND expires_at >= @ae AND (expires_at, id) > (@ae, @aid)
		ORDER BY expires_at, id LIMIT @limit`,
		pgx.NamedArgs{"until": expiredBy, "born": bornBefore, "ae": after.ExpiresAt, "aid": after.ID, "limit": limit})
	var ids []string
	var next LiveGrantCursor
	_, err := pgx.ForEachRow(rows, []any{&next.ID, &next.ExpiresAt}, func() error {
		ids = append(ids, next.ID)
		return nil
	})
	if err != nil {
		return nil, LiveGrantCursor{}, wrap("live grants", err)
	}
	if len(ids) < limit {
		next = LiveGrantCursor{}
	}
	return ids, next, nil
}

// MarkGrantsExpired marks the given grants, whose families are gone from
// Redis, as revoked with reason "expired" if they are not revoked yet, at
// their recorded expiry or at, whichever is earlier, and returns how many it
// marked. Callers bound len(ids).
func (db *DB) MarkGrantsExpired(ctx context.Context, ids []string, at time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := db.pool.Exec(ctx, `UPDATE grants SET revoked_at = LEAST(expires_at, @at), revoke_reason = @reason
		WHERE id = ANY(@ids) AND revoked_at IS NULL`,
		pgx.NamedArgs{"at": orNow(at), "reason": storage.RevokedExpired, "ids": ids})
	if err != nil {
		return 0, wrap("mark grants expired", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteEndedGrants deletes at most limit grants revoked (or expired, which
// the janitor records as revoked) before cutoff, and returns how many. It
// uses grants_revoked_at_idx.
func (db *DB) DeleteEndedGrants(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, errors.New("postgres: delete ended grants: limit must be positive")
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM grants WHERE id IN (
			SELECT id FROM grants WHERE revoked_at IS NOT NULL AND revoked_at < @cutoff
			ORDER BY revoked_at LIMIT @limit FOR UPDATE SKIP LOCKED)`,
		pgx.NamedArgs{"cutoff": cutoff, "limit": limit})
	if err != nil {
		return 0, wrap("delete ended grants", err)
	}
	return int(tag.RowsAffected()), nil
}
