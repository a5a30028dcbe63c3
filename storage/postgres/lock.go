package postgres

import (
	"context"
	"hash/fnv"
	"strconv"
	"time"
)

// WithAdvisoryLock runs fn while holding the Postgres session advisory lock
// key, taken with pg_try_advisory_lock on a connection of its own: if another
// session (another replica) holds it, fn does not run and ran is false. It is
// for work exactly one replica should do at a time, such as rotating signing
// keys. err is the locking error or fn's.
//
// Advisory locks are per database, not per schema: the lock actually taken is
// derived from key and the store's schema, so stores on different schemas
// (parallel tests) never contend.
//
// The lock is released when fn returns; if releasing fails, the connection is
// closed (which releases it) rather than returned to the pool still holding
// the lock.
func (db *DB) WithAdvisoryLock(ctx context.Context, key int64, fn func() error) (ran bool, err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return false, wrap("advisory lock", err)
	}
	id := db.advisoryLockID(key)
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&got); err != nil {
		conn.Release()
		return false, wrap("advisory lock", err)
	}
	if !got {
		conn.Release()
		return false, nil
	}
	defer func() {
		// Unlock even when ctx is done: use a fresh, short context.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var released bool
		if uerr := conn.QueryRow(uctx, "SELECT pg_advisory_unlock($1)", id).Scan(&released); uerr != nil || !released {
			pc := conn.Hijack() // never hand a connection holding the lock back to the pool
			_ = pc.Close(uctx)
			return
		}
		conn.Release()
	}()
	return true, fn()
}

// advisoryLockID mixes the schema into key (see WithAdvisoryLock).
func (db *DB) advisoryLockID(key int64) int64 {
	h := fnv.New64a()
	h.Write([]byte("authd/lock:" + db.schema + ":" + strconv.FormatInt(key, 10)))
	return int64(h.Sum64())
}
