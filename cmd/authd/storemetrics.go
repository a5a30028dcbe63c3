package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/postgres"
)

// storeMetrics measures authd's two backends: a go-redis hook times every
// command (and pipeline) and counts errors, a pgx tracer does the same for
// every Postgres statement, and two collectors read the connection pools'
// statistics at scrape time. It also counts what the key rotation loop
// (keyrotation.go) does, which lives on the same Postgres.
type storeMetrics struct {
	redisDur  *prometheus.HistogramVec
	redisErrs *prometheus.CounterVec
	pgDur     *prometheus.HistogramVec
	pgErrs    *prometheus.CounterVec

	keyRotations, keyRetirements, keyRotationErrs prometheus.Counter
}

var storeBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

func newStoreMetrics() *storeMetrics {
	return &storeMetrics{
		redisDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authd_redis_command_duration_seconds", Help: "Redis command latency by command (pipeline for pipelines and transactions).",
			Buckets: storeBuckets,
		}, []string{"command"}),
		redisErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_redis_errors_total", Help: "Redis commands that failed (not counting nil replies), by command.",
		}, []string{"command"}),
		pgDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authd_postgres_query_duration_seconds", Help: "Postgres statement latency by statement kind (select, insert, ...).",
			Buckets: storeBuckets,
		}, []string{"op"}),
		pgErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_postgres_errors_total", Help: "Postgres statements that failed, by statement kind.",
		}, []string{"op"}),
		keyRotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authd_signing_key_rotations_total", Help: "Signing keys added by scheduled rotation (AUTHD_KEY_ROTATION) in this process.",
		}),
		keyRetirements: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authd_signing_key_retirements_total", Help: "Signing keys retired by scheduled rotation in this process.",
		}),
		keyRotationErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authd_signing_key_rotation_errors_total", Help: "Scheduled rotation checks that failed.",
		}),
	}
}

// register adds the collectors to reg and hooks rdb.
func (m *storeMetrics) register(reg prometheus.Registerer, rdb redis.UniversalClient, db *postgres.DB) {
	reg.MustRegister(m.redisDur, m.redisErrs, m.pgDur, m.pgErrs, redisPoolCollector(rdb), pgPoolCollector(db),
		m.keyRotations, m.keyRetirements, m.keyRotationErrs)
	rdb.AddHook(redisHook{m})
}

// countable: errors worth counting. A nil reply is an answer; NOSCRIPT is
// go-redis loading a Lua script (it retries with EVAL); a cancelled context
// is the caller giving up.
func countableRedisErr(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !errors.Is(err, context.Canceled) &&
		!strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// redisHook implements redis.Hook.
type redisHook struct{ m *storeMetrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.m.redisErrs.WithLabelValues("dial").Inc()
		}
		return c, err
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		name := commandLabel(cmd.Name())
		h.m.redisDur.WithLabelValues(name).Observe(time.Since(start).Seconds())
		if countableRedisErr(err) {
			h.m.redisErrs.WithLabelValues(name).Inc()
		}
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.m.redisDur.WithLabelValues("pipeline").Observe(time.Since(start).Seconds())
		if countableRedisErr(err) {
			h.m.redisErrs.WithLabelValues("pipeline").Inc()
		}
		return err
	}
}

// commandLabel keeps the label set bounded: authd uses a few dozen commands.
func commandLabel(name string) string {
	if len(name) > 20 {
		return "other"
	}
	return strings.ToLower(name)
}

// pgx tracer (pgx.QueryTracer): the start time travels in the context.
type pgStartKey struct{}

type pgStart struct {
	at time.Time
	op string
}

func (m *storeMetrics) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, pgStartKey{}, pgStart{at: time.Now(), op: sqlOp(d.SQL)})
}

func (m *storeMetrics) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	s, ok := ctx.Value(pgStartKey{}).(pgStart)
	if !ok {
		return
	}
	m.pgDur.WithLabelValues(s.op).Observe(time.Since(s.at).Seconds())
	if d.Err != nil && !errors.Is(d.Err, pgx.ErrNoRows) && !errors.Is(d.Err, context.Canceled) {
		m.pgErrs.WithLabelValues(s.op).Inc()
	}
}

var _ pgx.QueryTracer = (*storeMetrics)(nil)

// sqlOp is the statement's first keyword (select, insert, update, delete,
// with, ...), "other" for anything unusual.
func sqlOp(sql string) string {
	sql = strings.TrimLeft(sql, " \t\r\n(")
	for strings.HasPrefix(sql, "--") { // leading comment lines
		_, rest, ok := strings.Cut(sql, "\n")
		if !ok {
			return "other"
		}
		sql = strings.TrimLeft(rest, " \t\r\n(")
	}
	end := strings.IndexFunc(sql, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
	if end < 0 {
		end = len(sql)
	}
	switch op := strings.ToLower(sql[:end]); op {
	case "select", "insert", "update", "delete", "with", "begin", "commit", "rollback", "create", "alter", "drop", "set", "lock", "savepoint", "release":
		return op
	default:
		return "other"
	}
}

// poolStat is one statistic of a connection pool: its desc, gauge or
// counter, and how to read it from one snapshot of the pool's statistics.
type poolStat[S any] struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(S) float64
}

// poolCollector exports a pool's statistics at scrape time: stats takes one
// snapshot per scrape, and each entry of the table reads one value from it.
type poolCollector[S any] struct {
	stats func() S
	table []poolStat[S]
}

func (c poolCollector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.table {
		ch <- m.desc
	}
}

func (c poolCollector[S]) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for _, m := range c.table {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(s))
	}
}

// pgPoolCollector exports pgxpool statistics at scrape time.
func pgPoolCollector(db *postgres.DB) prometheus.Collector {
	return poolCollector[*pgxpool.Stat]{stats: db.PoolStat, table: pgPoolStats}
}

// redisPoolCollector exports go-redis pool statistics at scrape time.
func redisPoolCollector(rdb redis.UniversalClient) prometheus.Collector {
	return poolCollector[*redis.PoolStats]{stats: rdb.PoolStats, table: redisPoolStats}
}

func poolGauge[S any](name, help string, value func(S) float64) poolStat[S] {
	return poolStat[S]{prometheus.NewDesc(name, help, nil, nil), prometheus.GaugeValue, value}
}

func poolCounter[S any](name, help string, value func(S) float64) poolStat[S] {
	return poolStat[S]{prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue, value}
}

var pgPoolStats = []poolStat[*pgxpool.Stat]{
	poolGauge("authd_postgres_pool_acquired_conns", "Connections in use.",
		func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }),
	poolGauge("authd_postgres_pool_idle_conns", "Idle connections.",
		func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }),
	poolGauge("authd_postgres_pool_total_conns", "Open connections.",
		func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }),
	poolGauge("authd_postgres_pool_max_conns", "Pool size limit.",
		func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }),
	poolCounter("authd_postgres_pool_acquires_total", "Connections acquired from the pool.",
		func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }),
	poolCounter("authd_postgres_pool_empty_acquires_total", "Acquires that had to wait or dial because no connection was idle.",
		func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }),
	poolCounter("authd_postgres_pool_canceled_acquires_total", "Acquires cancelled by their context.",
		func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }),
	poolCounter("authd_postgres_pool_acquire_wait_seconds_total", "Time spent acquiring connections.",
		func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
}

var redisPoolStats = []poolStat[*redis.PoolStats]{
	poolGauge("authd_redis_pool_total_conns", "Open Redis connections (all nodes).",
		func(s *redis.PoolStats) float64 { return float64(s.TotalConns) }),
	poolGauge("authd_redis_pool_idle_conns", "Idle Redis connections.",
		func(s *redis.PoolStats) float64 { return float64(s.IdleConns) }),
	poolCounter("authd_redis_pool_hits_total", "Times a free connection was found in the pool.",
		func(s *redis.PoolStats) float64 { return float64(s.Hits) }),
	poolCounter("authd_redis_pool_misses_total", "Times a connection had to be dialled.",
		func(s *redis.PoolStats) float64 { return float64(s.Misses) }),
	poolCounter("authd_redis_pool_timeouts_total", "Times waiting for a connection timed out.",
		func(s *redis.PoolStats) float64 { return float64(s.Timeouts) }),
}
