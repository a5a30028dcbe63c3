package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/storage"
)

const grantCols = `id, subject, client_id, scopes, flow, user_agent, first_ip, last_ip,
	created_at, last_used_at, expires_at, revoked_at, COALESCE(revoke_reason, '')`

func scanGrant(row pgx.Row) (storage.Grant, error) {
	var g storage.Grant
	err := row.Scan(&g.ID, &g.Subject, &g.ClientID, &g.Scopes, &g.Flow, &g.UserAgent, &g.FirstIP,
		&g.LastIP, &g.CreatedAt, &g.LastUsedAt, &g.ExpiresAt, &g.RevokedAt, &g.RevokeReason)
	return g, err
}

func collectGrants(rows pgx.Rows) ([]storage.Grant, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Grant, error) { return scanGrant(r) })
}

// CreateGrant stores g unless a grant with g.ID exists, in which case it does
// nothing and still returns nil: a token family has one row however many
// times its creation is retried. g.ID and g.ExpiresAt are required. Defaults
// are written back into g: CreatedAt now, LastUsedAt CreatedAt, LastIP
// FirstIP. RevokedAt and RevokeReason are ignored (use RevokeGrant). A
// grant of a disabled user is refused with storage.ErrRevoked (in the same
// statement: a code or device approval issued before the user was disabled
// gives no grant).
func (db *DB) CreateGrant(ctx context.Context, g *storage.Grant) error {
	if g.ID == "" {
		return errors.New("postgres: create grant: empty id")
	}
	if g.ExpiresAt.IsZero() {
		return errors.New("postgres: create grant: zero expires_at")
	}
	g.CreatedAt = orNow(g.CreatedAt)
	if g.LastUsedAt.IsZero() {
		g.LastUsedAt = g.CreatedAt
	}
	if g.LastIP == "" {
		g.LastIP = g.FirstIP
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO grants (id, subject, client_id, scopes, flow,
			user_agent, first_ip, last_ip, created_at, last_used_at, expires_at)
		SELECT $1::text, $2::text, $3::text, $4::text[], $5::text, $6::text, $7::text, $8::text,
			$9::timestamptz, $10::timestamptz, $11::timestamptz
		WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = $2 AND disabled)
		ON CONFLICT (id) DO NOTHING`,
		g.ID, g.Subject, g.ClientID, texts(g.Scopes), g.Flow, g.UserAgent, g.FirstIP, g.LastIP,
		g.CreatedAt, g.LastUsedAt, g.ExpiresAt)
	if err != nil {
		return wrap("create grant", err)
	}
	if tag.RowsAffected() == 0 {
		return db.grantRefused(ctx, g)
	}
	return nil
}

// grantRefused tells why CreateGrant wrote no row: the grant exists (a
// retried creation: nil), or its user was disabled after the code or
// device approval was issued (storage.ErrRevoked: no grant is born).
func (db *DB) grantRefused(ctx context.Context, g *storage.Grant) error {
	var disabled bool
	err := db.pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM grants WHERE id = $1)
		AND EXISTS (SELECT 1 FROM users WHERE id = $2 AND disabled)`, g.ID, g.Subject).Scan(&disabled)
	if err != nil {
		return wrap("create grant", err)
	}
	if disabled {
		return fmt.Errorf("postgres: create grant: user %s is disabled: %w", g.Subject, storage.ErrRevoked)
	}
	return nil
}

// GetGrant returns the grant with the given id, revoked or not, or
// storage.ErrNotFound.
func (db *DB) GetGrant(ctx context.Context, id string) (storage.Grant, error) {
	g, err := scanGrant(db.pool.QueryRow(ctx, `SELECT `+grantCols+` FROM grants WHERE id = $1`, id))
	if err != nil {
		return storage.Grant{}, wrap("get grant", err)
	}
	return g, nil
}

// ListGrants returns all the subject's grants (revoked and expired ones
// too), most recently used first.
func (db *DB) ListGrants(ctx context.Context, subject string) ([]storage.Grant, error) {
	q := `SELECT ` + grantCols + ` FROM grants WHERE subject = @subject ORDER BY last_used_at DESC, id`
	rows, _ := db.pool.Query(ctx, q, pgx.NamedArgs{"subject": subject})
	gs, err := collectGrants(rows)
	if err != nil {
		return nil, wrap("list grants", err)
	}
	return gs, nil
}

// CountGrants counts all the subject's grants (revoked and expired ones
// too).
func (db *DB) CountGrants(ctx context.Context, subject string) (int, error) {
	q := `SELECT count(*) FROM grants WHERE subject = @subject`
	var n int
	if err := db.pool.QueryRow(ctx, q, pgx.NamedArgs{"subject": subject}).Scan(&n); err != nil {
		return 0, wrap("count grants", err)
	}
	return n, nil
}

// RevokeGrant marks the grant revoked at the given time (now when zero) for
// reason and returns it. A grant already revoked keeps its first revocation
// time and reason, and is returned as stored: callers compare RevokedAt or
// RevokeReason to tell whether this call revoked it. It returns
// storage.ErrNotFound when no such grant exists.
func (db *DB) RevokeGrant(ctx context.Context, id, reason string, at time.Time) (storage.Grant, error) {
	g, err := scanGrant(db.pool.QueryRow(ctx, `UPDATE grants SET revoked_at = $2, revoke_reason = $3
		WHERE id = $1 AND revoked_at IS NULL RETURNING `+grantCols, id, orNow(at), reason))
	if errors.Is(err, pgx.ErrNoRows) {
		// Absent, or revoked already (possibly by a concurrent call that
		// committed after this statement started): read it in a new
		// statement, which sees that commit.
		return db.GetGrant(ctx, id)
	}
	if err != nil {
		return storage.Grant{}, wrap("revoke grant", err)
	}
	return g, nil
}

// TouchGrants records grant usage in one statement: for each usage it moves
// last_used_at forward to At (never back) and, in the same update, sets
// last_ip to the non-empty value given and moves expires_at
// forward to ExpiresAt (never back). Several usages of one
// grant collapse into the latest; usages with a zero At and unknown ids are
// ignored.
func (db *DB) TouchGrants(ctx context.Context, usages []storage.GrantUsage) error {
	latest := make(map[string]storage.GrantUsage, len(usages))
	for _, u := range usages {
		if u.ID == "" || u.At.IsZero() {
			continue
		}
		if prev, ok := latest[u.ID]; !ok || u.At.After(prev.At) {
			latest[u.ID] = u
		}
	}
	if len(latest) == 0 {
		return nil
	}
	ids := make([]string, 0, len(latest))
	ats := make([]time.Time, 0, len(latest))
	ips := make([]string, 0, len(latest))
	exps := make([]time.Time, 0, len(latest))
	for _, u := range latest {
		ids = append(ids, u.ID)
		ats = append(ats, u.At)
		ips = append(ips, u.IP)
		exps = append(exps, u.ExpiresAt)
	}
	_, err := db.pool.Exec(ctx, `UPDATE grants g SET
			last_used_at = u.at,
			last_ip = COALESCE(NULLIF(u.ip, ''), g.last_ip),
			expires_at = GREATEST(g.expires_at, u.exp)
		FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::timestamptz[]) AS u(id, at, ip, exp)
		WHERE g.id = u.id AND g.last_used_at < u.at`,
		ids, ats, ips, exps)
	if err != nil {
		return wrap("touch grants", err)
	}
	return nil
}

// LiveClientGrants returns the ids of the client's grants not revoked (by
// grants_live_client_idx): what DeleteClient will mark, so that their token
// families can be revoked in Redis first.
func (db *DB) LiveClientGrants(ctx context.Context, clientID string) ([]string, error) {
	rows, _ := db.pool.Query(ctx, `SELECT id FROM grants WHERE client_id = $1 AND revoked_at IS NULL`, clientID)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("live client grants", err)
	}
	return ids, nil
}
