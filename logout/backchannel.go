package logout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authd/authd/storage"
)

// Clients reads client registrations (the client cache); an error wrapping
// storage.ErrNotFound for an unknown client.
type Clients interface {
	Client(ctx context.Context, id string) (*storage.Client, error)
}

// Queue is the durable delivery queue (redisstore.Store): jobs survive a
// restart of authd, and a claimed job is held by one worker at a time
// until its lease ends.
type Queue interface {
	EnqueueJobs(ctx context.Context, jobs []storage.QueueJob, ttl time.Duration) error
	ClaimJobs(ctx context.Context, now time.Time, n int, lease time.Duration) ([]storage.ClaimedJob, error)
	DoneJob(ctx context.Context, j storage.ClaimedJob) (bool, error)
	RetryJob(ctx context.Context, j storage.ClaimedJob, at time.Time) (bool, error)
}

// Backoff is when a failed delivery is tried again: Base after the first
// failure, doubling up to Max, at most Attempts attempts in all (the
// defaults, 10 s doubling to 15 min over 10 attempts, give up after about
// 50 minutes). Each wait is jittered by ±20%.
type Backoff struct {
	Base, Max time.Duration
	Attempts  int
}

// Wait is the wait after failed attempt n (0 is the first), jittered.
func (b Backoff) Wait(n int) time.Duration {
	return time.Duration(float64(b.nominal(n)) * (0.8 + 0.4*rand.Float64()))
}

func (b Backoff) nominal(n int) time.Duration {
	d := b.Base
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// span bounds how long a job can live (its queue TTL): every wait at its
// longest and a lease per attempt, plus an hour for a queue that was down.
func (b Backoff) span(lease time.Duration) time.Duration {
	var t time.Duration
	for n := 0; n < b.Attempts; n++ {
		t += b.nominal(n)*6/5 + lease
	}
	return t + time.Hour
}

// BackChannelConfig configures NewBackChannel.
type BackChannelConfig struct {
	Issuer  string
	Clients Clients
	Keys    Signer
	Queue   Queue
	Logger  *slog.Logger
	// Metrics receives the delivery counters (nil: not registered).
	Metrics prometheus.Registerer
	// Backoff: zero fields take the defaults (10s, 15m, 10 attempts).
	Backoff Backoff
	// Timeout bounds one delivery attempt (default 5s).
	Timeout time.Duration
	// Poll is how often the worker looks for due jobs (default 1s); a
	// logout on this replica wakes it at once.
	Poll time.Duration
}

// BackChannel queues and delivers Back-Channel Logout 1.0 logout tokens.
// Enqueue (what a session's end calls) only writes the queue; Run, the
// worker, delivers.
type BackChannel struct {
	cfg   BackChannelConfig
	http  *http.Client
	lease time.Duration
	wake  chan struct{}
	m     *deliveryMetrics
}

// NewBackChannel applies cfg's defaults.
func NewBackChannel(cfg BackChannelConfig) *BackChannel {
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff.Base = 10 * time.Second
	}
	if cfg.Backoff.Max < cfg.Backoff.Base {
		cfg.Backoff.Max = max(15*time.Minute, cfg.Backoff.Base)
	}
	if cfg.Backoff.Attempts <= 0 {
		cfg.Backoff.Attempts = 10
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &BackChannel{
		cfg: cfg, lease: cfg.Timeout + 25*time.Second, wake: make(chan struct{}, 1), m: newDeliveryMetrics(cfg.Metrics),
		http: &http.Client{
			Timeout: cfg.Timeout,
			// A redirect is an answer that is not 2xx: never followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// job is a queued delivery: the logout token is minted when it is sent.
type job struct {
	Client  string `json:"c"`
	Subject string `json:"s"`
	SID     string `json:"sid"`
}

// Enqueue queues a logout token delivery to each of clients (deduplicated)
// registered with a backchannel_logout_uri, for the session sid of subject
// that just ended, and returns without contacting any of them: one Redis
// round trip plus client lookups (from the client cache). A client whose
// registration cannot be read now is queued anyway (the worker decides
// when it delivers). It is bounded in time (1 s of lookups, 2 s for the
// queue) and not cancelled with ctx, so a logout whose browser went away
// still queues its deliveries.
func (b *BackChannel) Enqueue(ctx context.Context, sid, subject string, clients []string) error {
	ctx = context.WithoutCancel(ctx)
	lookups, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	now := time.Now()
	var jobs []storage.QueueJob
	for _, id := range dedup(clients) {
		c, err := b.cfg.Clients.Client(lookups, id)
		if errors.Is(err, storage.ErrNotFound) || err == nil && c.BackchannelLogoutURI == "" {
			continue
		}
		p, _ := json.Marshal(job{Client: id, Subject: subject, SID: sid})
		jobs = append(jobs, storage.QueueJob{Payload: p, Due: now})
	}
	if len(jobs) == 0 {
		return nil
	}
	ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := b.cfg.Queue.EnqueueJobs(ctx, jobs, b.cfg.Backoff.span(b.lease)); err != nil {
		return fmt.Errorf("logout: queue back-channel deliveries: %w", err)
	}
	b.m.enqueued.Add(float64(len(jobs)))
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return nil
}

func dedup(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(slices.DeleteFunc(out, func(s string) bool { return s == "" }))
}

// batch is how many jobs one pass claims (and delivers concurrently).
const batch = 32

// Run delivers due jobs until ctx is done, every Poll and whenever a
// logout on this replica queued some.
func (b *BackChannel) Run(ctx context.Context) {
	t := time.NewTicker(b.cfg.Poll)
	defer t.Stop()
	for {
		for {
			n, err := b.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				b.cfg.Logger.Warn("back-channel logout: claim jobs", "err", err)
			}
			if n < batch || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.wake:
		}
	}
}

// RunOnce claims up to one batch of due jobs, delivers them concurrently
// and returns how many it claimed.
func (b *BackChannel) RunOnce(ctx context.Context) (int, error) {
	jobs, err := b.cfg.Queue.ClaimJobs(ctx, time.Now(), batch, b.lease)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.attempt(ctx, j)
		}()
	}
	wg.Wait()
	return len(jobs), err
}

// attempt delivers one claimed job and completes it, or puts it back for
// later, or gives up after the last attempt.
func (b *BackChannel) attempt(ctx context.Context, cj storage.ClaimedJob) {
	log := b.cfg.Logger
	var j job
	if err := json.Unmarshal(cj.Payload, &j); err != nil {
		log.Error("back-channel logout: unreadable job dropped", "err", err)
		b.finish(ctx, cj)
		return
	}
	c, err := b.cfg.Clients.Client(ctx, j.Client)
	if errors.Is(err, storage.ErrNotFound) || err == nil && (c.BackchannelLogoutURI == "" || c.BackchannelLogoutSessionRequired && j.SID == "") {
		log.Debug("back-channel logout: client no longer registered for it", "client_id", j.Client)
		b.finish(ctx, cj)
		return
	}
	if err == nil {
		err = b.post(ctx, c, j)
	}
	if err == nil {
		b.m.delivered.Inc()
		b.finish(ctx, cj)
		return
	}
	if ctx.Err() != nil {
		return // shutting down: not an attempt; the job is due again when its lease ends
	}
	if cj.Attempts+1 >= b.cfg.Backoff.Attempts {
		b.m.givenUp.Inc()
		log.Warn("back-channel logout: given up", "client_id", j.Client, "attempts", cj.Attempts+1, "err", err)
		b.finish(ctx, cj)
		return
	}
	b.m.retried.Inc()
	log.Info("back-channel logout: will retry", "client_id", j.Client, "attempt", cj.Attempts+1, "err", err)
	if _, err := b.cfg.Queue.RetryJob(ctx, cj, time.Now().Add(b.cfg.Backoff.Wait(cj.Attempts))); err != nil {
		log.Warn("back-channel logout: put back job (it is claimed again when its lease ends)", "err", err)
	}
}

func (b *BackChannel) finish(ctx context.Context, cj storage.ClaimedJob) {
	if _, err := b.cfg.Queue.DoneJob(ctx, cj); err != nil {
		b.cfg.Logger.Warn("back-channel logout: complete job (it is claimed again when its lease ends)", "err", err)
	}
}

// post sends one freshly minted logout token to the client's
// backchannel_logout_uri; nil only for a 2xx answer.
func (b *BackChannel) post(ctx context.Context, c *storage.Client, j job) error {
	alg := c.IDTokenAlg
	if alg == "" {
		alg = "RS256"
	}
	tok, err := mintToken(b.cfg.Keys, alg, b.cfg.Issuer, c.ID, j.Subject, j.SID, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI,
		strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	return nil
}

type deliveryMetrics struct {
	enqueued, delivered, retried, givenUp prometheus.Counter
}

func newDeliveryMetrics(reg prometheus.Registerer) *deliveryMetrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "authd_backchannel_logout_" + name + "_total", Help: help})
	}
	m := &deliveryMetrics{
		enqueued:  c("queued", "Back-channel logout deliveries queued (one per client of an ended session)."),
		delivered: c("delivered", "Logout tokens a relying party accepted (2xx)."),
		retried:   c("retried", "Failed delivery attempts put back for a later retry."),
		givenUp:   c("given_up", "Deliveries dropped after their last failed attempt."),
	}
	if reg != nil {
		reg.MustRegister(m.enqueued, m.delivered, m.retried, m.givenUp)
	}
	return m
}
