package redisstore_test

import (
	"context"
	"errors"
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
		for _, k := range s.SessionKeys(b.ID, b.CookieHash, b.Subject) {
			if b.ID == long.ID && k == s.SessionKeys(long.ID, "", "")[1] {
				continue // long has no grants: no set
			}
			if d := pttl(k); d <= 0 || d > time.Until(long.Expires)+50*time.Millisecond {
				t.Errorf("%s: PTTL %v, want in (0, %v]", k, d, time.Until(long.Expires))
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

	// The short one ends by its idle timeout: the index drops it and still
	// lives with the long one.
	waitUntil(t, short.Expires.Add(50*time.Millisecond))
	for _, k := range s.SessionKeys(short.ID, short.CookieHash, "")[:3] {
		if n, _ := rdb.Exists(ctx, k).Result(); n != 0 {
			t.Errorf("%s outlived its session's idle timeout", k)
		}
	}
	got, err = s.ListSessions(ctx, "u1", time.Now())
	if err != nil || len(got) != 1 || got[0].ID != long.ID {
		t.Fatalf("list after the short session's end: %+v %v", got, err)
	}
	if n, _ := rdb.ZCard(ctx, index).Result(); n != 1 {
		t.Errorf("index has %d members, want 1", n)
	}
	// Using the long one moves its expiry and the index's with it.
	x := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
	if _, err := s.TouchSession(ctx, long.ID, "u1", long.CookieHash, time.Now(), x); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{s.SessionKeys(long.ID, long.CookieHash, "")[0], s.SessionKeys(long.ID, long.CookieHash, "")[2], index} {
		if d := pttl(k); d <= 0 || d > time.Until(x)+50*time.Millisecond || d < time.Until(x)-300*time.Millisecond {
			t.Errorf("after touch %s PTTL %v, want about %v", k, d, time.Until(x))
		}
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
	if _, err := s.DeleteSession(ctx, long.ID, time.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if err := s.AddSessionGrant(ctx, long.ID, storage.SessionGrant{Grant: "g2", Client: "c1"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("grant added to an ended session: %v", err)
	}
}

// waitUntil sleeps until t0 (tolerating a loaded machine: callers only
// assert what must hold after t0).
func waitUntil(t *testing.T, t0 time.Time) {
	t.Helper()
	time.Sleep(time.Until(t0))
}
