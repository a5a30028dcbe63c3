package outage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/authd/authd/storage"
)

// Network reports whether err is a failure of the connection to a backend
// rather than an answer from it: any net.Error (a dial that failed, a read
// or write that timed out), a refused or reset connection, a broken pipe, a
// pooled connection the server closed (io.EOF, io.ErrUnexpectedEOF, or
// net.ErrClosed), or a call that ran out of time (context.DeadlineExceeded).
// A cancelled context (the caller went away) is not an outage.
func Network(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE)
}

// Mark returns err wrapped with storage.ErrUnavailable, keeping err itself in
// the chain (errors.Is on err's own sentinels and types still works, and
// the message keeps the cause).
func Mark(err error) error {
	return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
}
