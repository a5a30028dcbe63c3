package grants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
)

// Pending is where grant usage waits between the refresh path and Postgres
// (Redis: one HSET per refresh, taken by the flush in batches).
type Pending interface {
	RecordUsage(ctx context.Context, grant, ip, userAgent string, at, expires time.Time) error
	TakeUsages(ctx context.Context) ([]redisstore.Usage, error)
	ReturnUsages(ctx context.Context, us []redisstore.Usage) error
}

// usageBatch bounds one TouchGrants statement.
const usageBatch = 1000

// RecordUsage notes a use of grant (a refresh: when, from where, and the
// family's new end) where it is cheap to write; FlushUsage moves it to the
// row later, so the refresh path never waits on Postgres. The User-Agent
// slot of the pending usage stays empty: a grant's device (its label) is
// the browser that authorized it, not whatever client refreshes.
func (m *Manager) RecordUsage(ctx context.Context, grant, ip string, at, expires time.Time) error {
	if m.pending == nil {
		return nil
	}
	c := storage.RequestMeta{IP: ip}.Clean()
	return m.pending.RecordUsage(ctx, grant, c.IP, "", at, expires)
}

// FlushUsage writes every pending grant usage to the rows (last used, last
// IP, and the expiry moved forward with the sliding family) and
// returns how many it wrote. Usages it could not write go back for the next
// flush; a usage Postgres refuses on its own (touch) is dropped, logged, so
// it cannot hold back the others. Safe on every replica at once.
func (m *Manager) FlushUsage(ctx context.Context) (int, error) {
	if m.pending == nil {
		return 0, nil
	}
	us, err := m.pending.TakeUsages(ctx)
	if err != nil || len(us) == 0 {
		return 0, err
	}
	written := 0
	for i := 0; i < len(us); i += usageBatch {
		n, err := m.touch(ctx, grantUsages(us[i:min(i+usageBatch, len(us))]))
		written += n
		if err != nil {
			// Keep what was not written for the next flush (a fresh
			// context: ctx may be the reason it failed). Rows of this
			// batch already written go back too: writing a usage again
			// changes nothing (last_used_at only moves forward).
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			rerr := m.pending.ReturnUsages(rctx, us[i:])
			cancel()
			return written, errors.Join(err, rerr)
		}
	}
	return written, nil
}

// grantUsages turns pending usages into rows' updates, repairing their
// address (storage.CleanText): usage recorded by an older authd, or written
// to Redis by anything else, must not reach Postgres unclean. A User-Agent
// an older authd queued is ignored (the grant's device does not change).
func grantUsages(us []redisstore.Usage) []storage.GrantUsage {
	gu := make([]storage.GrantUsage, len(us))
	for j, u := range us {
		c := storage.RequestMeta{IP: u.IP}.Clean()
		gu[j] = storage.GrantUsage{ID: u.Grant, IP: c.IP, At: u.At, ExpiresAt: u.Expires}
	}
	return gu
}

// touch writes one batch and returns how many usages it wrote. When
// Postgres refuses the batch, and not because it is unavailable, touch
// writes the usages one by one: the ones refused on their own are dropped
// (and logged) so that one row cannot fail every later flush. If every
// usage fails, the fault is not in a row: the error is returned and the
// batch goes back.
func (m *Manager) touch(ctx context.Context, gu []storage.GrantUsage) (int, error) {
	err := m.records.TouchGrants(ctx, gu)
	if err == nil {
		return len(gu), nil
	}
	if len(gu) == 1 || errors.Is(err, storage.ErrUnavailable) || ctx.Err() != nil {
		return 0, err
	}
	written := 0
	var refused []error
	for _, u := range gu {
		rerr := m.records.TouchGrants(ctx, []storage.GrantUsage{u})
		switch {
		case rerr == nil:
			written++
		case errors.Is(rerr, storage.ErrUnavailable) || ctx.Err() != nil:
			return written, rerr
		default:
			refused = append(refused, fmt.Errorf("grant %s: %w", u.ID, rerr))
		}
	}
	if written == 0 {
		return 0, err
	}
	for _, r := range refused {
		m.log.Warn("usage flush: dropped a usage Postgres refuses", "err", r)
	}
	return written, nil
}
