package postgres

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/internal/outage"
)

// Postgres error codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeDuplicateSchema     = "42P06"
	// Class 08 (connection exception) and the operator interventions that
	// end or refuse a session: the server is going away or not ready yet.
	classConnectionException = "08"
	codeAdminShutdown        = "57P01"
	codeCrashShutdown        = "57P02"
	codeCannotConnectNow     = "57P03"
)

func isCode(err error, codes ...string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	for _, c := range codes {
		if pgErr.Code == c {
			return true
		}
	}
	return false
}

// wrap prefixes err with the operation and maps pgx.ErrNoRows to
// storage.ErrNotFound, unique violations to storage.ErrConflict and a
// database that cannot answer now (see unavailable) to
// storage.ErrUnavailable, keeping the driver's error in the chain.
func wrap(op string, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: %s: %w", op, storage.ErrNotFound)
	case errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation:
		return fmt.Errorf("postgres: %s: %w (%s)", op, storage.ErrConflict, pgErr.ConstraintName)
	case unavailable(err):
		return fmt.Errorf("postgres: %s: %w", op, outage.Mark(err))
	default:
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
}

// unavailable reports whether err means Postgres is down or cannot answer
// now: a connection failure (outage.Network), a connection attempt that
// failed (pgconn.ConnectError, which pgx returns for every failed dial or
// startup), a connection pgx had already closed (pgconn.ErrConnClosed,
// "conn closed"), a timeout inside pgconn, a closed pool (puddle's
// ErrClosedPool, which pgxpool returns unwrapped) or a dead connection
// reported through database/sql (driver.ErrBadConn, the migrations' path);
// or the server's own word, by SQLSTATE: a connection exception (class 08),
// or a session ended by a shutdown or refused while the server starts
// (57P01, 57P02, 57P03).
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	var pgErr *pgconn.PgError
	return outage.Network(err) || errors.As(err, &ce) || errors.Is(err, pgconn.ErrConnClosed) ||
		pgconn.Timeout(err) || errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, driver.ErrBadConn) ||
		errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, classConnectionException) ||
			isCode(pgErr, codeAdminShutdown, codeCrashShutdown, codeCannotConnectNow))
}
