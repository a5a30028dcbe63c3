package logout_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/logout"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/storage/storagetest"
)

// Back-channel delivery over the real Redis queue (redisstore), with fakes
// of the package's own small interfaces for the clients and the key.

type fakeClients map[string]*storage.Client

func (f fakeClients) Client(_ context.Context, id string) (*storage.Client, error) {
	if c, ok := f[id]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("client %s: %w", id, storage.ErrNotFound)
}

type fakeSigner struct{ key *rsa.PrivateKey }

func (f fakeSigner) Signer(alg string) (string, crypto.Signer, error) {
	if alg != "RS256" {
		return "", nil, fmt.Errorf("no %s key", alg)
	}
	return "kid-1", f.key, nil
}

const issuer = "https://op.example"

// rp is a relying party's back-channel logout endpoint that verifies
// every logout token and records its claims; answer decides the status.
type rp struct {
	t      *testing.T
	key    *rsa.PublicKey
	client string
	answer func(n int) int
	mu     sync.Mutex
	got    []map[string]any
	calls  atomic.Int32
}

func (p *rp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(p.calls.Add(1))
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		p.t.Errorf("content type %q", ct)
	}
	claims, err := verifyLogoutToken(r.PostFormValue("logout_token"), p.key, p.client)
	if err != nil {
		p.t.Errorf("logout token: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.got = append(p.got, claims)
	p.mu.Unlock()
	status := http.StatusOK
	if p.answer != nil {
		status = p.answer(n)
	}
	w.WriteHeader(status)
}

// verifyLogoutToken checks a logout token as Back-Channel Logout 1.0 §2.6
// has an RP check it: signature (go-jose v4), typ, iss, aud, iat, exp,
// jti, events, sid or sub, and no nonce.
func verifyLogoutToken(raw string, key *rsa.PublicKey, aud string) (map[string]any, error) {
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, err
	}
	h := tok.Headers[0]
	if h.ExtraHeaders["typ"] != "logout+jwt" || h.KeyID != "kid-1" {
		return nil, fmt.Errorf("header typ %v kid %q", h.ExtraHeaders["typ"], h.KeyID)
	}
	var c map[string]any
	var std josejwt.Claims
	if err := tok.Claims(key, &c, &std); err != nil {
		return nil, err
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: issuer, AnyAudience: []string{aud}, Time: time.Now()}, 0); err != nil {
		return nil, err
	}
	if std.IssuedAt == nil || std.Expiry == nil || std.Expiry.Time().Sub(std.IssuedAt.Time()) > 2*time.Minute || std.ID == "" {
		return nil, fmt.Errorf("iat/exp/jti: %v", c)
	}
	ev, _ := c["events"].(map[string]any)
	if e, ok := ev[logout.BackChannelEvent].(map[string]any); !ok || len(e) != 0 || len(ev) != 1 {
		return nil, fmt.Errorf("events %v", c["events"])
	}
	if _, ok := c["nonce"]; ok {
		return nil, fmt.Errorf("a logout token carries a nonce")
	}
	if c["sid"] == nil || c["sub"] == nil {
		return nil, fmt.Errorf("sid/sub missing: %v", c)
	}
	return c, nil
}

type setup struct {
	rdb     *redis.Client
	prefix  string
	clients fakeClients
	key     *rsa.PrivateKey
	reg     *prometheus.Registry
}

func newSetup(t *testing.T) *setup {
	rdb, prefix := storagetest.Redis(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &setup{rdb: rdb, prefix: prefix, clients: fakeClients{}, key: key, reg: prometheus.NewRegistry()}
}

func (s *setup) channel(b logout.Backoff) *logout.BackChannel {
	return logout.NewBackChannel(logout.BackChannelConfig{
		Issuer: issuer, Clients: s.clients, Keys: fakeSigner{s.key}, Queue: redisstore.New(s.rdb, s.prefix),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: s.reg, Backoff: b, Timeout: time.Second,
	})
}

// addRP registers client id with a back-channel URI served by an rp.
func (s *setup) addRP(t *testing.T, id string, answer func(int) int) *rp {
	p := &rp{t: t, key: &s.key.PublicKey, client: id, answer: answer}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	s.clients[id] = &storage.Client{ID: id, BackchannelLogoutURI: srv.URL + "/bcl", IDTokenAlg: "RS256"}
	return p
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// drain runs passes until the queue is empty or the deadline passes.
func drain(t *testing.T, s *setup, bc *logout.BackChannel, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := bc.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		n, err := s.rdb.ZCard(context.Background(), s.prefix+"{bcl}:due").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("queue not drained within %s", d)
}

func TestBackChannelDelivers(t *testing.T) {
	s := newSetup(t)
	a, b := s.addRP(t, "app-a", nil), s.addRP(t, "app-b", nil)
	s.clients["no-bcl"] = &storage.Client{ID: "no-bcl"}
	bc := s.channel(logout.Backoff{})
	ctx := context.Background()
	if err := bc.Enqueue(ctx, "sid-1", "sub-1", []string{"app-a", "app-b", "app-a", "no-bcl", "unknown"}); err != nil {
		t.Fatal(err)
	}
	if q := counter(t, s.reg, "authd_backchannel_logout_queued_total"); q != 2 {
		t.Fatalf("queued %v, want 2 (app-a once, app-b; none for a client without a URI or an unknown one)", q)
	}
	everyKeyHasTTL(t, s)
	drain(t, s, bc, 10*time.Second)
	for _, p := range []*rp{a, b} {
		if len(p.got) != 1 || p.got[0]["sid"] != "sid-1" || p.got[0]["sub"] != "sub-1" || p.got[0]["aud"] != p.client {
			t.Fatalf("%s got %v", p.client, p.got)
		}
	}
	if a.got[0]["jti"] == b.got[0]["jti"] {
		t.Fatal("two logout tokens share a jti")
	}
	if d := counter(t, s.reg, "authd_backchannel_logout_delivered_total"); d != 2 {
		t.Fatalf("delivered %v", d)
	}
	if keys, _ := s.rdb.Keys(ctx, s.prefix+"*").Result(); len(keys) != 0 {
		t.Fatalf("keys left after delivery: %v", keys)
	}
}

// everyKeyHasTTL: no queue key lives forever.
func everyKeyHasTTL(t *testing.T, s *setup) {
	t.Helper()
	ctx := context.Background()
	keys, err := s.rdb.Keys(ctx, s.prefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys %v %v", keys, err)
	}
	for _, k := range keys {
		if ttl := s.rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > 3*time.Hour {
			t.Errorf("key %s has TTL %v", k, ttl)
		}
	}
}

func TestBackChannelRetriesAfter503(t *testing.T) {
	s := newSetup(t)
	p := s.addRP(t, "app", func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	bc := s.channel(logout.Backoff{Base: 100 * time.Millisecond})
	if err := bc.Enqueue(context.Background(), "sid", "sub", []string{"app"}); err != nil {
		t.Fatal(err)
	}
	drain(t, s, bc, 10*time.Second)
	if p.calls.Load() != 2 || counter(t, s.reg, "authd_backchannel_logout_retried_total") != 1 ||
		counter(t, s.reg, "authd_backchannel_logout_delivered_total") != 1 {
		t.Fatalf("calls %d, retried %v, delivered %v", p.calls.Load(),
			counter(t, s.reg, "authd_backchannel_logout_retried_total"), counter(t, s.reg, "authd_backchannel_logout_delivered_total"))
	}
}

func TestBackChannelGivesUp(t *testing.T) {
	s := newSetup(t)
	p := s.addRP(t, "app", func(int) int { return http.StatusFound }) // a redirect is not followed: a failure
	bc := s.channel(logout.Backoff{Base: 20 * time.Millisecond, Attempts: 3})
	if err := bc.Enqueue(context.Background(), "sid", "sub", []string{"app"}); err != nil {
		t.Fatal(err)
	}
	drain(t, s, bc, 10*time.Second)
	if p.calls.Load() != 3 || counter(t, s.reg, "authd_backchannel_logout_given_up_total") != 1 ||
		counter(t, s.reg, "authd_backchannel_logout_retried_total") != 2 {
		t.Fatalf("calls %d given up %v", p.calls.Load(), counter(t, s.reg, "authd_backchannel_logout_given_up_total"))
	}
}

// TestBackChannelOneDeliveryAtATime: workers of several replicas on one
// queue never deliver a job twice, even while a delivery is slow.
func TestBackChannelOneDeliveryAtATime(t *testing.T) {
	s := newSetup(t)
	var rps []*rp
	var ids []string
	for i := range 10 {
		id := fmt.Sprintf("app-%d", i)
		rps = append(rps, s.addRP(t, id, func(int) int { time.Sleep(200 * time.Millisecond); return http.StatusOK }))
		ids = append(ids, id)
	}
	if err := s.channel(logout.Backoff{}).Enqueue(context.Background(), "sid", "sub", ids); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		bc := logout.NewBackChannel(logout.BackChannelConfig{
			Issuer: issuer, Clients: s.clients, Keys: fakeSigner{s.key}, Queue: redisstore.New(s.rdb, s.prefix),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := bc.RunOnce(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for _, p := range rps {
		if p.calls.Load() != 1 {
			t.Errorf("%s called %d times", p.client, p.calls.Load())
		}
	}
}

// TestBackChannelEnqueueIsFast: queueing for 20 clients whose endpoints
// hang takes no longer than for none; nothing is sent meanwhile.
func TestBackChannelEnqueueIsFast(t *testing.T) {
	s := newSetup(t)
	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("slow-%d", i)
		s.addRP(t, id, func(int) int { time.Sleep(3 * time.Second); return http.StatusOK })
		ids = append(ids, id)
	}
	bc := s.channel(logout.Backoff{})
	start := time.Now()
	if err := bc.Enqueue(context.Background(), "sid", "sub", ids); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("queueing 20 deliveries took %v", d)
	}
	if n := s.rdb.ZCard(context.Background(), s.prefix+"{bcl}:due").Val(); n != 20 {
		t.Fatalf("%d jobs queued", n)
	}
}
