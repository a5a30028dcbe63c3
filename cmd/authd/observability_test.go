package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
)

func TestRequestIDs(t *testing.T) {
	var logs bytes.Buffer
	log := withRequestIDs(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	var seen string
	h := requestIDs(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestID(r.Context())
		log.InfoContext(r.Context(), "inside")
		if r.URL.Path == "/boom" {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	for _, c := range []struct {
		in   string
		keep bool
	}{
		{"", false},
		{"lb-3f2a.9:x_y", true},
		{"550e8400-e29b-41d4-a716-446655440000", true},
		{"bad id", false},
		{"evil\"}\n{", false},
		{strings.Repeat("a", 129), false},
	} {
		logs.Reset()
		req := httptest.NewRequest(http.MethodGet, "/x?code=secret", nil)
		if c.in != "" {
			req.Header.Set("X-Request-Id", c.in)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Header().Get("X-Request-Id")
		if out == "" || out != seen {
			t.Fatalf("in %q: response id %q, handler saw %q", c.in, out, seen)
		}
		if (out == c.in) != c.keep {
			t.Errorf("in %q: out %q, keep=%v", c.in, out, c.keep)
		}
		if !c.keep && len(out) != 24 {
			t.Errorf("generated id %q", out)
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("want 2 log lines, got %q", logs.String())
		}
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil || m["request_id"] != out {
				t.Errorf("log line without the request id: %s", l)
			}
		}
		if strings.Contains(logs.String(), "secret") {
			t.Error("the query string was logged")
		}
	}
	logs.Reset()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/boom", nil))
	if !strings.Contains(logs.String(), `"level":"ERROR","msg":"request"`) || !strings.Contains(logs.String(), `"status":502`) {
		t.Errorf("5xx not logged as an error: %s", logs.String())
	}
}

func TestRedisHookCountsErrorsNotNils(t *testing.T) {
	m := newStoreMetrics()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer down.Close()
	down.AddHook(redisHook{m})
	if err := down.Ping(context.Background()).Err(); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	if n := counterValue(t, m.redisErrs.WithLabelValues("ping")); n != 1 {
		t.Errorf("ping errors = %v, want 1", n)
	}
	if n := counterValue(t, m.redisErrs.WithLabelValues("dial")); n < 1 {
		t.Errorf("dial errors = %v, want >= 1", n)
	}
	for _, err := range []error{redis.Nil, context.Canceled, errors.New("NOSCRIPT No matching script")} {
		if countableRedisErr(err) {
			t.Errorf("%v counted as an error", err)
		}
	}
}

func TestPostgresTracer(t *testing.T) {
	m := newStoreMetrics()
	ctx := m.TraceQueryStart(context.Background(), nil, pgx.TraceQueryStartData{SQL: "  -- note\nUPDATE grants SET x = 1"})
	m.TraceQueryEnd(ctx, nil, pgx.TraceQueryEndData{Err: errors.New("deadlock")})
	ctx = m.TraceQueryStart(context.Background(), nil, pgx.TraceQueryStartData{SQL: "SELECT 1"})
	m.TraceQueryEnd(ctx, nil, pgx.TraceQueryEndData{Err: pgx.ErrNoRows})
	if n := counterValue(t, m.pgErrs.WithLabelValues("update")); n != 1 {
		t.Errorf("update errors = %v", n)
	}
	if n := counterValue(t, m.pgErrs.WithLabelValues("select")); n != 0 {
		t.Errorf("no rows counted as an error")
	}
	if n := seriesCount(t, m.pgDur); n != 2 {
		t.Errorf("%d latency series, want 2", n)
	}
	for sql, want := range map[string]string{"with x as (select 1) select * from x": "with", "(SELECT 1)": "select", "VACUUM": "other", "": "other", "-- only a comment": "other"} {
		if got := sqlOp(sql); got != want {
			t.Errorf("sqlOp(%q) = %q, want %q", sql, got, want)
		}
	}
}

// The served /metrics carries the backend metrics once traffic went through.
func TestStoreMetricsServed(t *testing.T) {
	s := startServer(t)
	s.addClient(t, storage.Client{ID: "svc", GrantTypes: []string{"client_credentials"}}, "svc-secret-0123456789abcdef")
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", "svc-secret-0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(resp.Header.Get("X-Request-Id")) != 24 {
		t.Fatalf("token: %s, X-Request-Id %q", resp.Status, resp.Header.Get("X-Request-Id"))
	}
	resp, err = http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{
		"authd_redis_command_duration_seconds_count", "authd_redis_errors_total", "authd_redis_pool_total_conns",
		"authd_postgres_query_duration_seconds_count", "authd_postgres_errors_total", "authd_postgres_pool_total_conns",
		"authd_postgres_pool_acquires_total",
	} {
		if name == "authd_redis_errors_total" || name == "authd_postgres_errors_total" {
			continue // only present once an error happened
		}
		if !bytes.Contains(body, []byte("\n"+name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func seriesCount(t *testing.T, c prometheus.Collector) int {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		n += len(mf.GetMetric())
	}
	return n
}

// BenchmarkStoreMetricsOverhead is what the Redis hook and the pgx tracer add
// to every command / statement (the backends themselves not included).
func BenchmarkStoreMetricsOverhead(b *testing.B) {
	m := newStoreMetrics()
	b.Run("redis-hook", func(b *testing.B) {
		process := redisHook{m}.ProcessHook(func(context.Context, redis.Cmder) error { return nil })
		cmd := redis.NewStringCmd(context.Background(), "hget", "k", "f")
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			_ = process(ctx, cmd)
		}
	})
	b.Run("pgx-tracer", func(b *testing.B) {
		start := pgx.TraceQueryStartData{SQL: "SELECT id FROM clients WHERE id = $1"}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			m.TraceQueryEnd(m.TraceQueryStart(ctx, nil, start), nil, pgx.TraceQueryEndData{})
		}
	})
}

// TestPageLogsCarryRequestID: what the sign-in pages log carries the
// request's id, as the protocol endpoints' logs do.
func TestPageLogsCarryRequestID(t *testing.T) {
	logs := lockedBuffer{limit: 64 << 10}
	s := startServerLog(t, &logs)
	req, err := http.NewRequest(http.MethodPost, s.URL+"/login", strings.NewReader("username=a&password=b"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Request-Id", "page-log-check-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST /login without a CSRF token: %d, want 403", resp.StatusCode)
	}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "csrf check failed" {
			if m["request_id"] != "page-log-check-1" {
				t.Fatalf("page log line without the request id: %s", l)
			}
			return
		}
	}
	t.Fatalf("no csrf log line in %s", logs.String())
}
