package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/redisstore"
)

// Background work of a serving authd:
//
//   - the usage flusher moves refresh metadata (last used, IP, User-Agent)
//     recorded in Redis on the refresh path to Postgres in batches, every
//     UsageFlushInterval and once more on graceful shutdown;
//   - the janitor marks grants whose token family is gone from Redis as
//     expired and deletes grants ended more than GrantRetention ago, every
//     JanitorInterval, in bounded batches.
//
// Both are safe to run on every replica at once.

// usageBatch bounds one TouchGrants statement.
const usageBatch = 1000

// flushUsage writes every pending grant usage to Postgres and returns how
// many it wrote. Usages it could not write go back to Redis for the next
// flush.
func flushUsage(ctx context.Context, rs *redisstore.Store, db *postgres.DB) (int, error) {
	us, err := rs.TakeUsages(ctx)
	if err != nil || len(us) == 0 {
		return 0, err
	}
	for i := 0; i < len(us); i += usageBatch {
		chunk := us[i:min(i+usageBatch, len(us))]
		gu := make([]storage.GrantUsage, len(chunk))
		for j, u := range chunk {
			gu[j] = storage.GrantUsage{ID: u.Grant, IP: u.IP, UserAgent: u.UserAgent, At: u.At, ExpiresAt: u.Expires}
		}
		if err := db.TouchGrants(ctx, gu); err != nil {
			// Keep what was not written for the next flush (a fresh
			// context: ctx may be the reason it failed).
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			rerr := rs.ReturnUsages(rctx, us[i:])
			cancel()
			return i, errors.Join(err, rerr)
		}
	}
	return len(us), nil
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

// runJanitor makes one pass over the grants: every unrevoked grant whose
// token family is gone from Redis (expired, evicted or lost) is marked
// expired, and grants that ended more than o.Retention ago are deleted.
// Redis decides, not the recorded expires_at: refresh tokens slide, and the
// record's expiry only catches up at the next usage flush.
func runJanitor(ctx context.Context, db *postgres.DB, rs *redisstore.Store, o JanitorOptions) (JanitorStats, error) {
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
	now := time.Now()
	var cur postgres.LiveGrantCursor
	for {
		ids, next, err := db.LiveGrants(ctx, now, now.Add(-o.Grace), cur, o.Batch)
		if err != nil {
			return st, err
		}
		live, err := rs.FamiliesLive(ctx, ids)
		if err != nil {
			return st, err
		}
		var dead []string
		for i, ok := range live {
			if !ok {
				dead = append(dead, ids[i])
			}
		}
		n, err := db.MarkGrantsExpired(ctx, dead, now)
		st.Expired += n
		if err != nil {
			return st, err
		}
		if next == (postgres.LiveGrantCursor{}) {
			break
		}
		cur = next
	}
	cutoff := now.Add(-o.Retention)
	for {
		n, err := db.DeleteEndedGrants(ctx, cutoff, o.Batch)
		st.Deleted += n
		if err != nil {
			return st, err
		}
		if n < o.Batch {
			break
		}
	}
	return st, nil
}

// jobs runs the background loops of one App.
type jobs struct {
	wg    sync.WaitGroup
	flush func(context.Context) (int, error)
	log   *slog.Logger
}

// startJobs starts the usage flusher and the janitor until ctx is done.
func startJobs(ctx context.Context, a *App) *jobs {
	c := a.Config
	j := &jobs{log: a.Log, flush: func(ctx context.Context) (int, error) { return flushUsage(ctx, a.Redis, a.DB) }}
	every := func(name string, d time.Duration, f func(context.Context) error) {
		if d <= 0 {
			return
		}
		j.wg.Add(1)
		go func() {
			defer j.wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if err := f(ctx); err != nil && ctx.Err() == nil {
					a.Log.Error(name+" failed", "err", err)
				}
			}
		}()
	}
	every("usage flush", c.UsageFlushInterval, func(ctx context.Context) error {
		_, err := j.flush(ctx)
		return err
	})
	every("janitor", c.JanitorInterval, func(ctx context.Context) error {
		st, err := runJanitor(ctx, a.DB, a.Redis, JanitorOptions{Retention: c.GrantRetention})
		if st != (JanitorStats{}) {
			a.Log.Info("janitor pass", "expired", st.Expired, "deleted", st.Deleted)
		}
		return err
	})
	return j
}

// stop waits for the loops to end (their context is cancelled by the
// caller) and flushes pending usage one last time.
func (j *jobs) stop() {
	if j == nil {
		return
	}
	j.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := j.flush(ctx); err != nil {
		j.log.Error("final usage flush failed (the usages stay in Redis for the next start)", "err", err)
	}
}

// FlushUsage writes pending refresh metadata to Postgres now (tests, and
// the janitor command).
func (a *App) FlushUsage(ctx context.Context) (int, error) { return flushUsage(ctx, a.Redis, a.DB) }

// janitorCmd runs `authd janitor`: flush pending usage, then one pass.
func janitorCmd(ctx context.Context, c Config, db *postgres.DB, rdb redis.UniversalClient, args []string, out io.Writer) error {
	if len(args) > 0 {
		return usageError{"janitor: no arguments expected"}
	}
	rs := redisstore.New(rdb, c.RedisPrefix)
	n, err := flushUsage(ctx, rs, db)
	if err != nil {
		return err
	}
	st, err := runJanitor(ctx, db, rs, JanitorOptions{Retention: c.GrantRetention})
	fmt.Fprintf(out, "usage flushed: %d; grants marked expired: %d; deleted: %d\n", n, st.Expired, st.Deleted)
	return err
}
