package grants

import (
	"context"
	"time"

	"github.com/authd/authd/storage/postgres"
)

// Sweeper is what the janitor reads and writes in Postgres: bounded pages
// of unrevoked grants past their recorded expiry, and bounded updates and
// deletes.
type Sweeper interface {
	LiveGrants(ctx context.Context, expiredBy, bornBefore time.Time, after postgres.LiveGrantCursor, limit int) ([]string, postgres.LiveGrantCursor, error)
	MarkGrantsExpired(ctx context.Context, ids []string, at time.Time) (int, error)
	DeleteEndedGrants(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// JanitorOptions tune one janitor pass.
type JanitorOptions struct {
	// Batch bounds the rows one statement touches (default 500).
	Batch int
	// Retention: grants ended longer ago are deleted (default 30 days).
	Retention time.Duration
	// Grace: grants younger than this are not checked against Redis (their
	// family may be being created; default 5 minutes).
	Grace time.Duration
}

// JanitorStats is what one pass did.
type JanitorStats struct {
	Expired int // unrevoked grants whose family is gone from Redis, marked expired
	Deleted int // ended before the retention period, deleted
}

// Sweep makes one janitor pass over the grants: every unrevoked grant whose
// token family is gone from Redis (expired, evicted or lost) is marked
// expired, and grants that ended more than o.Retention ago are deleted.
// Redis decides, not the recorded expires_at: refresh tokens slide, and the
// row's expiry only catches up at the next usage flush. Each statement
// touches at most o.Batch rows; safe on every replica at once.
func (m *Manager) Sweep(ctx context.Context, o JanitorOptions) (JanitorStats, error) {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Minute
	}
	var st JanitorStats
	if m.sweeper == nil {
		return st, nil
	}
	now := m.now()
	n, err := m.markGone(ctx, now, o)
	st.Expired = n
	if err != nil {
		return st, err
	}
	cutoff := now.Add(-o.Retention)
	for {
		n, err := m.sweeper.DeleteEndedGrants(ctx, cutoff, o.Batch)
		st.Deleted += n
		if err != nil || n < o.Batch {
			return st, err
		}
	}
}

// markGone marks expired, page by page, the unrevoked grants past their
// recorded expiry whose family is gone from Redis, and returns how many.
func (m *Manager) markGone(ctx context.Context, now time.Time, o JanitorOptions) (int, error) {
	total := 0
	var cur postgres.LiveGrantCursor
	for {
		ids, next, err := m.sweeper.LiveGrants(ctx, now, now.Add(-o.Grace), cur, o.Batch)
		if err != nil {
			return total, err
		}
		live, err := m.families.FamiliesLive(ctx, ids)
		if err != nil {
			return total, err
		}
		var dead []string
		for i, ok := range live {
			if !ok {
				dead = append(dead, ids[i])
			}
		}
		n, err := m.sweeper.MarkGrantsExpired(ctx, dead, now)
		total += n
		if err != nil {
			return total, err
		}
		if next == (postgres.LiveGrantCursor{}) {
			return total, nil
		}
		cur = next
	}
}
