package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/storage/storagetest"
)

// deviceBackends: the device state scripts each touch one key, so they must
// work on a single server and on a Redis Cluster alike.
var deviceBackends = []struct {
	name string
	open func(testing.TB) (redis.UniversalClient, string)
}{
	{"single", func(t testing.TB) (redis.UniversalClient, string) { return storagetest.Redis(t) }},
	{"cluster", storagetest.RedisCluster},
}

func onEachBackend(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	for _, b := range deviceBackends {
		t.Run(b.name, func(t *testing.T) {
			rdb, prefix := b.open(t)
			f(t, rdb, prefix)
		})
	}
}

func newDevice(t *testing.T, s *redisstore.Store, grant, code string, ttl time.Duration) {
	t.Helper()
	err := s.CreateDevice(context.Background(), redisstore.NewDevice{
		Grant: grant, MAC: "mac-" + grant, ClientID: "tv", Scopes: []string{"openid", "offline_access"},
		UserCode: code, Interval: 5 * time.Second, TTL: ttl,
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDeviceLifecycle(t *testing.T) {
	onEachBackend(t, testDeviceLifecycle)
}

func testDeviceLifecycle(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	s := redisstore.New(rdb, prefix)
	newDevice(t, s, "g1", "BCDFGHJK", time.Minute)

	// Both keys carry the device code's TTL.
	for _, k := range []string{s.Key("g1", "dc"), prefix + "uc:BCDFGHJK"} {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 55*time.Second || ttl > time.Minute {
			t.Errorf("PTTL %s = %v, want about 1m", k, ttl)
		}
	}
	// A user code in use cannot be claimed again.
	err := s.CreateDevice(ctx, redisstore.NewDevice{Grant: "g2", MAC: "m", ClientID: "tv", UserCode: "BCDFGHJK", TTL: time.Minute})
	if !errors.Is(err, redisstore.ErrUserCodeTaken) {
		t.Fatalf("duplicate user code: %v", err)
	}
	if rdb.Exists(ctx, s.Key("g2", "dc")).Val() != 0 {
		t.Fatal("a device request was stored although its user code was taken")
	}

	d, err := s.DeviceByUserCode(ctx, "BCDFGHJK")
	if err != nil || d.Grant != "g1" || d.ClientID != "tv" || d.State != redisstore.DevicePending || len(d.Scopes) != 2 {
		t.Fatalf("lookup: %+v, %v", d, err)
	}
	if _, err := s.DeviceByUserCode(ctx, "ZZZZZZZZ"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("unknown user code: %v", err)
	}

	// Polling: the interval is enforced while pending; slow_down raises it.
	t0 := time.UnixMilli(1_800_000_000_000)
	poll := func(at time.Time, wantState string, wantIv time.Duration) redisstore.DevicePoll {
		t.Helper()
		p, err := s.PollDevice(ctx, "g1", "mac-g1", "tv", at)
		if err != nil || p.State != wantState || p.Interval != wantIv {
			t.Fatalf("poll at +%v: %+v, %v; want %s, interval %v", at.Sub(t0), p, err, wantState, wantIv)
		}
		return p
	}
	poll(t0, redisstore.DevicePending, 5*time.Second)
	poll(t0.Add(2*time.Second), redisstore.DeviceSlowDown, 10*time.Second)
	poll(t0.Add(8*time.Second), redisstore.DeviceSlowDown, 15*time.Second)
	poll(t0.Add(24*time.Second), redisstore.DevicePending, 15*time.Second)
	if _, err := s.PollDevice(ctx, "g1", "wrong-mac", "tv", t0); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("poll with a wrong MAC: %v", err)
	}
	if _, err := s.PollDevice(ctx, "g1", "mac-g1", "other", t0); !errors.Is(err, redisstore.ErrWrongClient) {
		t.Fatalf("poll by another client: %v", err)
	}
	// Redeeming before approval is refused.
	if err := s.RedeemDevice(ctx, "g1", "mac-g1"); !errors.Is(err, storage.ErrStale) {
		t.Fatalf("redeem while pending: %v", err)
	}

	// Approval needs the matching user code, and happens once.
	if err := s.ApproveDevice(ctx, "g1", "ZZZZZZZZ", []byte("x")); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("approve with another user code: %v", err)
	}
	if err := s.ApproveDevice(ctx, "g1", "BCDFGHJK", []byte(`{"s":"alice"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.DenyDevice(ctx, "g1", "BCDFGHJK"); !errors.Is(err, storage.ErrStale) {
		t.Fatalf("deny after approval: %v", err)
	}
	p := poll(t0.Add(25*time.Second), redisstore.DeviceApproved, 15*time.Second) // no slow_down once approved
	if string(p.Payload) != `{"s":"alice"}` || len(p.Scopes) != 2 {
		t.Fatalf("approved poll: %+v", p)
	}

	// Exactly one of many concurrent redemptions wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := s.RedeemDevice(ctx, "g1", "mac-g1"); {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, storage.ErrStale):
				t.Errorf("redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d redemptions won, want 1", wins.Load())
	}
	p = poll(t0.Add(26*time.Second), redisstore.DeviceRedeemed, 15*time.Second)
	if p.Payload != nil {
		t.Error("the session payload is kept after redemption")
	}
	if ttl := rdb.PTTL(ctx, s.Key("g1", "dc")).Val(); ttl <= 0 {
		t.Errorf("the redeemed device state lost its TTL: %v", ttl)
	}
}

func TestDeviceDenyAndExpiry(t *testing.T) {
	onEachBackend(t, testDeviceDenyAndExpiry)
}

func testDeviceDenyAndExpiry(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	s := redisstore.New(rdb, prefix)
	newDevice(t, s, "g1", "BCDFGHJK", time.Minute)
	if err := s.DenyDevice(ctx, "g1", "BCDFGHJK"); err != nil {
		t.Fatal(err)
	}
	if err := s.ApproveDevice(ctx, "g1", "BCDFGHJK", []byte("x")); !errors.Is(err, storage.ErrStale) {
		t.Fatalf("approve after denial: %v", err)
	}
	if p, err := s.PollDevice(ctx, "g1", "mac-g1", "tv", time.Now()); err != nil || p.State != redisstore.DeviceDenied {
		t.Fatalf("poll after denial: %+v, %v", p, err)
	}

	newDevice(t, s, "g2", "CDFGHJKL", 50*time.Millisecond)
	time.Sleep(120 * time.Millisecond)
	if _, err := s.PollDevice(ctx, "g2", "mac-g2", "tv", time.Now()); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("poll after expiry: %v", err)
	}
	if _, err := s.DeviceByUserCode(ctx, "CDFGHJKL"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("user code after expiry: %v", err)
	}
	if err := s.ApproveDevice(ctx, "g2", "CDFGHJKL", []byte("x")); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("approve after expiry: %v", err)
	}
}
