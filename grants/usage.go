package grants

import (
	"context"
	"errors"
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
// row later, so the refresh path never waits on Postgres.
func (m *Manager) RecordUsage(ctx context.Context, grant, ip, userAgent string, at, expires time.Time) error {
	if m.pending == nil {
		return nil
	}
	return m.pending.RecordUsage(ctx, grant, ip, userAgent, at, expires)
}

// FlushUsage writes every pending grant usage to the rows (last used, last
// IP, User-Agent, and the expiry moved forward with the sliding family) and
// returns how many it wrote. Usages it could not write go back for the next
// flush. Safe on every replica at once.
func (m *Manager) FlushUsage(ctx context.Context) (int, error) {
	if m.pending == nil {
		return 0, nil
	}
	us, err := m.pending.TakeUsages(ctx)
	if err != nil || len(us) == 0 {
		return 0, err
	}
	for i := 0; i < len(us); i += usageBatch {
		chunk := us[i:min(i+usageBatch, len(us))]
		gu := make([]storage.GrantUsage, len(chunk))
		for j, u := range chunk {
			gu[j] = storage.GrantUsage{ID: u.Grant, IP: u.IP, UserAgent: u.UserAgent, At: u.At, ExpiresAt: u.Expires}
		}
		if err := m.records.TouchGrants(ctx, gu); err != nil {
			// Keep what was not written for the next flush (a fresh
			// context: ctx may be the reason it failed).
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			rerr := m.pending.ReturnUsages(rctx, us[i:])
			cancel()
			return i, errors.Join(err, rerr)
		}
	}
	return len(us), nil
}
