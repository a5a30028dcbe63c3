package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/grants"
	"github.com/authd/authd/sessions"
	"github.com/authd/authd/storage/postgres"
)

// Background work of a serving authd, safe to run on every replica at
// once:
//
//   - the usage flush moves refresh metadata (last used, IP, User-Agent)
//     recorded in Redis on the refresh path to Postgres in batches, every
//     UsageFlushInterval and once more on graceful shutdown;
//   - the back-channel logout worker delivers the logout tokens queued in
//     Redis when sessions end (package logout), retrying with backoff;
//   - the janitor marks grants whose token family is gone from Redis as
//     expired and deletes grants ended more than GrantRetention ago, every
//     JanitorInterval, in bounded batches;
//   - the session sweep ends browser sessions whose idle timeout or
//     absolute end passed (package sessions: their grants without
//     offline_access are revoked, their clients get logout tokens), every
//     defaultSessionSweep, on one replica at a time (a Postgres advisory
//     lock; the sweep is safe without it, the lock saves duplicate reads).

// defaultSessionSweep is how often the session sweep runs.
const defaultSessionSweep = 30 * time.Second

// sessionSweepLock is the advisory lock of the session sweep.
const sessionSweepLock int64 = 0x7365737377 // "sessw"

// jobs runs the background loops of one App.
type jobs struct {
	wg    sync.WaitGroup
	flush func(context.Context) (int, error)
	log   *slog.Logger
}

// startJobs starts the usage flusher and the janitor until ctx is done.
func startJobs(ctx context.Context, a *App) *jobs {
	c := a.Config
	j := &jobs{log: a.Log, flush: a.Grants.FlushUsage}
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
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		a.BackChannel.Run(ctx)
	}()
	every("usage flush", c.UsageFlushInterval, func(ctx context.Context) error {
		_, err := j.flush(ctx)
		return err
	})
	every("janitor", c.JanitorInterval, func(ctx context.Context) error {
		st, err := a.Grants.Sweep(ctx, grants.JanitorOptions{Retention: c.GrantRetention})
		if st != (grants.JanitorStats{}) {
			a.Log.Info("janitor pass", "expired", st.Expired, "deleted", st.Deleted)
		}
		return err
	})
	sweep := c.sessionSweepInterval // < 0: off (tests of authd janitor)
	if sweep == 0 {
		sweep = defaultSessionSweep
	}
	every("session sweep", sweep, func(ctx context.Context) error {
		n, err := sweepSessions(ctx, a.DB, a.Sessions)
		if n > 0 {
			a.Log.Info("session sweep", "expired", n)
		}
		return err
	})
	return j
}

// sweepSessions runs one session sweep unless another replica (or
// command) is, and returns how many sessions it ended.
func sweepSessions(ctx context.Context, db *postgres.DB, ss *sessions.Manager) (int, error) {
	n := 0
	_, err := db.WithAdvisoryLock(ctx, sessionSweepLock, func() (err error) {
		n, err = ss.Sweep(ctx)
		return err
	})
	return n, err
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
func (a *App) FlushUsage(ctx context.Context) (int, error) { return a.Grants.FlushUsage(ctx) }

// janitorCmd runs `authd janitor`: flush pending usage, one janitor pass,
// then one session sweep.
func janitorCmd(ctx context.Context, c Config, db *postgres.DB, rdb redis.UniversalClient, args []string, out io.Writer) error {
	if len(args) > 0 {
		return usageError{"janitor: no arguments expected"}
	}
	rs, clients, _, m, err := newGrantStores(c, db, rdb, nil, nil)
	if err != nil {
		return err
	}
	n, err := m.FlushUsage(ctx)
	if err != nil {
		return err
	}
	st, err := m.Sweep(ctx, grants.JanitorOptions{Retention: c.GrantRetention})
	fmt.Fprintf(out, "usage flushed: %d; grants marked expired: %d; deleted: %d\n", n, st.Expired, st.Deleted)
	if err != nil {
		return err
	}
	ended, err := sweepSessions(ctx, db, withLogoutTokens(newSessions(c, rs, m, nil), c, rs, clients))
	fmt.Fprintf(out, "expired sessions ended: %d\n", ended)
	return err
}
