package postgres

import (
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// WithTracer makes every connection report its queries to t (authd uses it
// for query latency and error metrics).
func WithTracer(t pgx.QueryTracer) Option {
	return func(o *options) { o.tracer = t }
}

// PoolStat is a snapshot of the connection pool's statistics.
func (db *DB) PoolStat() *pgxpool.Stat { return db.pool.Stat() }
