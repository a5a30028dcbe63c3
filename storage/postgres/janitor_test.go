package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/storagetest"
)

// janitorDB returns a migrated store and a raw connection on the same
// schema, for bulk fixtures.
func janitorDB(t *testing.T) (*postgres.DB, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	schema := storagetest.Schema(t)
	db, err := postgres.Open(ctx, storagetest.PostgresURL(), postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(storagetest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return db, conn
}

func count(t *testing.T, conn *pgx.Conn, where string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM grants WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestJanitorBatches(t *testing.T) {
	ctx := context.Background()
	db, conn := janitorDB(t)
	now := time.Now().UTC()
	// 5,000 unrevoked grants past their recorded end, 5,000 revoked long
	// ago, 2,000 revoked recently, 3,000 live.
	for _, q := range []string{
		`INSERT INTO grants (id, subject, client_id, flow, created_at, last_used_at, expires_at, revoked_at, revoke_reason)
		SELECT 'expired-'||g, 'sub-'||(g % 50), 'c', 'authorization_code', $1::timestamptz - interval '31 days',
		       $1::timestamptz - interval '2 days', $1::timestamptz - (g * interval '1 second'), NULL, NULL
		FROM generate_series(1, 5000) g`,
		`INSERT INTO grants (id, subject, client_id, flow, created_at, last_used_at, expires_at, revoked_at, revoke_reason)
		SELECT 'old-'||g, 'sub-'||(g % 50), 'c', 'authorization_code', $1::timestamptz - interval '90 days',
		       $1::timestamptz - interval '60 days', $1::timestamptz - interval '30 days',
		       $1::timestamptz - interval '40 days' - (g * interval '1 second'), 'user'
		FROM generate_series(1, 5000) g`,
		`INSERT INTO grants (id, subject, client_id, flow, created_at, last_used_at, expires_at, revoked_at, revoke_reason)
		SELECT 'recent-'||g, 'sub-'||(g % 50), 'c', 'authorization_code', $1::timestamptz - interval '10 days',
		       $1::timestamptz - interval '2 days', $1::timestamptz + interval '20 days',
		       $1::timestamptz - interval '1 day', 'logout_all'
		FROM generate_series(1, 2000) g`,
		`INSERT INTO grants (id, subject, client_id, flow, created_at, last_used_at, expires_at)
		SELECT 'live-'||g, 'sub-'||(g % 50), 'c', 'authorization_code', $1::timestamptz - interval '1 hour',
		       $1::timestamptz, $1::timestamptz + interval '30 days' + (g * interval '1 second')
		FROM generate_series(1, 3000) g`,
	} {
		if _, err := conn.Exec(ctx, q, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `ANALYZE grants`); err != nil {
		t.Fatal(err)
	}
	const batch = 400

	// Page through the unrevoked grants past their recorded expiry (only
	// those: live ones are not even read); rows younger than the grace
	// period are skipped.
	if err := db.CreateGrant(ctx, &storage.Grant{ID: "young", Subject: "s", ClientID: "c", Flow: "authorization_code", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var dead []string
	seen := map[string]bool{}
	var cur postgres.LiveGrantCursor
	for pages := 0; ; pages++ {
		ids, next, err := db.LiveGrants(ctx, now, now.Add(-5*time.Minute), cur, batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > batch || pages > 5000/batch+1 {
			t.Fatalf("page of %d ids (page %d)", len(ids), pages)
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("id %s seen twice", id)
			}
			seen[id] = true
			if strings.HasPrefix(id, "expired-") {
				dead = append(dead, id) // as if their families were gone from Redis
			}
		}
		if next == (postgres.LiveGrantCursor{}) {
			break
		}
		cur = next
	}
	if len(seen) != 5000 || seen["young"] || len(dead) != 5000 {
		t.Fatalf("paged %d unrevoked grants (young included: %v, past expiry %d), want exactly the 5000 past their expiry", len(seen), seen["young"], len(dead))
	}
	// Mark them in bounded batches, at their recorded expiry.
	for i := 0; i < len(dead); i += batch {
		n, err := db.MarkGrantsExpired(ctx, dead[i:min(i+batch, len(dead))], now)
		if err != nil || n != min(batch, len(dead)-i) {
			t.Fatalf("MarkGrantsExpired: %d, %v", n, err)
		}
	}
	if n := count(t, conn, `id LIKE 'expired-%' AND (revoke_reason <> 'expired' OR revoked_at <> expires_at)`); n != 0 {
		t.Errorf("%d expired grants not marked expired at their expiry", n)
	}
	n, err := db.MarkGrantsExpired(ctx, []string{"live-1", "recent-1", "expired-1"}, now)
	if err != nil || n != 1 {
		t.Errorf("MarkGrantsExpired = %d, %v; want 1 (a revoked grant keeps its reason)", n, err)
	}
	if n := count(t, conn, `id = 'live-1' AND revoked_at = $1`, now); n != 1 {
		t.Error("a grant marked before its recorded expiry must end now")
	}

	// Delete: only rows revoked before the cutoff, at most batch per call.
	cutoff := now.Add(-30 * 24 * time.Hour)
	total := 0
	for {
		n, err := db.DeleteEndedGrants(ctx, cutoff, batch)
		if err != nil {
			t.Fatal(err)
		}
		if n > batch {
			t.Fatalf("DeleteEndedGrants deleted %d rows, batch is %d", n, batch)
		}
		total += n
		if n == 0 {
			break
		}
	}
	if total != 5000 {
		t.Errorf("deleted %d grants, want the 5000 revoked 40 days ago", total)
	}
	if n := count(t, conn, `id LIKE 'old-%'`); n != 0 {
		t.Errorf("%d old grants left", n)
	}
	if n := count(t, conn, `id LIKE 'recent-%' AND revoke_reason = 'logout_all'`); n != 2000 {
		t.Errorf("recently revoked grants: %d left, want 2000 untouched", n)
	}
	if n := count(t, conn, `id LIKE 'expired-%'`); n != 5000 {
		t.Errorf("just-expired grants: %d left, want 5000 kept for the history", n)
	}
	if n := count(t, conn, `id LIKE 'live-%' AND revoked_at IS NULL AND last_used_at = $1`, now); n != 2999 {
		t.Errorf("live grants untouched: %d, want 2999", n)
	}

	var plan string
	rows, _ := conn.Query(ctx, `EXPLAIN SELECT id FROM grants WHERE revoked_at IS NOT NULL AND revoked_at < $1 ORDER BY revoked_at LIMIT 400`, cutoff)
	for rows.Next() {
		var line string
		_ = rows.Scan(&line)
		plan += line + "\n"
	}
	if !strings.Contains(plan, "grants_revoked_at_idx") {
		t.Errorf("deleting ended grants does not use grants_revoked_at_idx:\n%s", plan)
	}
}
