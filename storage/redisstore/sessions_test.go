package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/storage/storagetest"
)

// TestSessionKeysExpire: every key of a browser session has a TTL no later
// than the session's expiry, the per-user index lives exactly as long as its
// longest-lived session (also when sessions end by their idle timeout), and
// deleting a session leaves none of its keys. Run on one Redis and, when
// one is configured, on a Redis Cluster (the session's keys share a slot).
func TestSessionKeysExpire(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		rdb, prefix := storagetest.Redis(t)
		testSessionKeysExpire(t, rdb, prefix)
	})
	t.Run("cluster", func(t *testing.T) {
		if storagetest.RedisClusterURL() == "" {
			t.Skip("no Redis Cluster configured")
		}
		rdb, prefix := storagetest.RedisCluster(t)
		testSessionKeysExpire(t, rdb, prefix)
	})
}

func testSessionKeysExpire(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	s := redisstore.New(rdb, prefix)
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(id string, idle time.Duration) storage.BrowserSession {
		return storage.BrowserSession{
			ID: id, Subject: "u1", Username: "alice", AuthTime: now.Truncate(time.Second), Created: now, LastSeen: now,
			End: now.Add(time.Hour), Expires: now.Add(idle), Device: "Firefox on Linux", IP: "10.0.0.1", CookieHash: "ck-" + id,
		}
	}
	short, long := mk("s-short", 700*time.Millisecond), mk("s-long", 3*time.Second)
	for _, b := range []storage.BrowserSession{long, short} {
		if err := s.CreateSession(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddSessionGrant(ctx, short.ID, storage.SessionGrant{Grant: "g1", Client: "c1"}); err != nil {
		t.Fatal(err)
	}
	pttl := func(k string) time.Duration {
		t.Helper()
		d, err := rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, b := range []storage.BrowserSession{short, long} {
		for i, k := range append(s.SessionKeys(b.ID, b.CookieHash, b.Subject), s.DueKey(b.ID)) {
			if b.ID == long.ID && i == 1 {
				continue // long has no grants: no set
			}
			// The session's hash and grants, and its due shard, wait
			// SessionGrace for the sweep; the cookie and index do not.
			lo, hi := time.Until(b.Expires)-time.Second, time.Until(long.Expires)
			if i == 0 || i == 1 || i == 4 {
				lo, hi = lo+redisstore.SessionGrace, time.Until(b.Expires)+redisstore.SessionGrace
			}
			if i == 4 {
				hi = time.Until(long.Expires) + redisstore.SessionGrace // a shard may hold both
			}
			if d := pttl(k); d <= 0 || d < lo || d > hi+50*time.Millisecond {
				t.Errorf("%s: PTTL %v, want in [%v, %v]", k, d, lo, hi)
			}
		}
	}
	index := s.SessionKeys("", "", "u1")[3]
	if d := pttl(index); d < time.Until(long.Expires)-200*time.Millisecond {
		t.Errorf("index PTTL %v, want the latest session's expiry (%v)", d, time.Until(long.Expires))
	}
	got, err := s.ListSessions(ctx, "u1", time.Now())
	if err != nil || len(got) != 2 {
		t.Fatalf("list: %v %v", got, err)
	}
	if due, _, err := s.DueSessions(ctx, time.Now(), 10); err != nil || len(due) != 0 {
		t.Fatalf("due before any expiry: %v %v", due, err)
	}

	// The short one ends by its idle timeout: its cookie is gone, the index
	// drops it and still lives with the long one; its hash waits for the
	// sweep but counts as gone.
	waitUntil(t, short.Expires.Add(50*time.Millisecond))
	if n, _ := rdb.Exists(ctx, s.SessionKeys(short.ID, short.CookieHash, "")[2]).Result(); n != 0 {
		t.Error("the cookie outlived its session's idle timeout")
	}
	got, err = s.ListSessions(ctx, "u1", time.Now())
	if err != nil || len(got) != 1 || got[0].ID != long.ID {
		t.Fatalf("list after the short session's end: %+v %v", got, err)
	}
	if n, _ := rdb.ZCard(ctx, index).Result(); n != 1 {
		t.Errorf("index has %d members, want 1", n)
	}
	if _, err := s.TouchSession(ctx, short.ID, "u1", short.CookieHash, time.Now(), time.Now().Add(time.Hour)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("touching an expired session: %v, want ErrNotFound", err)
	}
	if err := s.AddSessionGrant(ctx, short.ID, storage.SessionGrant{Grant: "g9", Client: "c1"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("grant added to an expired session: %v", err)
	}
	testSweepStore(t, rdb, s, short, long)

	// Using the long one moves its expiry and the index's with it.
	x := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
	if _, err := s.TouchSession(ctx, long.ID, "u1", long.CookieHash, time.Now(), x); err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{s.SessionKeys(long.ID, long.CookieHash, "")[0], s.SessionKeys(long.ID, long.CookieHash, "")[2], index} {
		want := time.Until(x)
		if i == 0 {
			want += redisstore.SessionGrace
		}
		if d := pttl(k); d <= 0 || d > want+50*time.Millisecond || d < want-300*time.Millisecond {
			t.Errorf("after touch %s PTTL %v, want about %v", k, d, want)
		}
	}
	// ... and its due time, with the due shard living past it.
	if sc, err := rdb.ZScore(ctx, s.DueKey(long.ID), long.ID).Result(); err != nil || int64(sc) != x.UnixMilli() {
		t.Errorf("due time after touch: %v %v, want %d", int64(sc), err, x.UnixMilli())
	}
	if d := pttl(s.DueKey(long.ID)); d < time.Until(x)+redisstore.SessionGrace-300*time.Millisecond {
		t.Errorf("due shard PTTL %v after touch, want at least %v", d, time.Until(x)+redisstore.SessionGrace)
	}
	// Deleting it leaves nothing, the index included.
	b, err := s.DeleteSession(ctx, long.ID, time.Now())
	if err != nil || b.Subject != "u1" || b.CookieHash != long.CookieHash {
		t.Fatalf("delete: %+v %v", b, err)
	}
	for _, k := range s.SessionKeys(long.ID, long.CookieHash, "u1") {
		if n, _ := rdb.Exists(ctx, k).Result(); n != 0 {
			t.Errorf("%s left after the session was deleted", k)
		}
	}
	if err := rdb.ZScore(ctx, s.DueKey(long.ID), long.ID).Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("due entry left after the session was deleted: %v", err)
	}
	if _, err := s.DeleteSession(ctx, long.ID, time.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if err := s.AddSessionGrant(ctx, long.ID, storage.SessionGrant{Grant: "g2", Client: "c1"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("grant added to an ended session: %v", err)
	}
}

// testSweepStore: with short expired and long live, the due index lists
// short only; the sweep's delete leaves long alone and returns short with
// its grants, leaving nothing of it; a due entry whose session is gone is
// dropped.
func testSweepStore(t *testing.T, rdb redis.UniversalClient, s *redisstore.Store, short, long storage.BrowserSession) {
	ctx := context.Background()
	now := time.Now()
	due, more, err := s.DueSessions(ctx, now, 10)
	if err != nil || more || len(due) != 1 || due[0] != short.ID {
		t.Fatalf("due: %v %v %v, want only %s", due, more, err, short.ID)
	}
	if _, err := s.DeleteExpiredSession(ctx, long.ID, now); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("sweeping a live session: %v", err)
	}
	if got, err := s.ListSessions(ctx, "u1", now); err != nil || len(got) != 1 {
		t.Fatalf("the live session after a sweep of it: %v %v", got, err)
	}
	b, err := s.DeleteExpiredSession(ctx, short.ID, now)
	if err != nil || b.Subject != "u1" || len(b.Grants) != 1 || b.Grants[0].Grant != "g1" {
		t.Fatalf("sweeping the expired session: %+v %v", b, err)
	}
	for _, k := range s.SessionKeys(short.ID, short.CookieHash, "")[:3] {
		if n, _ := rdb.Exists(ctx, k).Result(); n != 0 {
			t.Errorf("%s left after the sweep", k)
		}
	}
	if due, _, _ := s.DueSessions(ctx, now, 10); len(due) != 0 {
		t.Errorf("due after the sweep: %v", due)
	}
	if _, err := s.DeleteExpiredSession(ctx, short.ID, now); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("sweeping it twice: %v", err)
	}
	// A due entry whose session is gone (its hash outlived by the entry).
	ghost := s.DueKey("ghost")
	if err := rdb.ZAdd(ctx, ghost, redis.Z{Score: float64(now.Add(-time.Hour).UnixMilli()), Member: "ghost"}).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Do(ctx, "PEXPIRE", ghost, 60000, "NX") // every key has a TTL
	if due, _, _ := s.DueSessions(ctx, now, 10); len(due) != 1 || due[0] != "ghost" {
		t.Fatalf("due: %v, want the ghost", due)
	}
	if _, err := s.DeleteExpiredSession(ctx, "ghost", now); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("sweeping a ghost: %v", err)
	}
	if err := rdb.ZScore(ctx, ghost, "ghost").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("the ghost's due entry stayed: %v", err)
	}
	// A shard with more than perShard due: that many, and "more".
	ids := []string{"ghost"}
	for i := 0; len(ids) < 2; i++ {
		if id := fmt.Sprintf("g%d", i); s.DueKey(id) == ghost {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		rdb.ZAdd(ctx, ghost, redis.Z{Score: float64(now.Add(-time.Hour).UnixMilli()), Member: id})
	}
	if due, more, err := s.DueSessions(ctx, now, 1); err != nil || !more || len(due) != 1 {
		t.Errorf("due by one: %v %v %v, want one and more", due, more, err)
	}
	rdb.ZRem(ctx, ghost, ids[0], ids[1])
}

// waitUntil sleeps until t0 (tolerating a loaded machine: callers only
// assert what must hold after t0).
func waitUntil(t *testing.T, t0 time.Time) {
	t.Helper()
	time.Sleep(time.Until(t0))
}
