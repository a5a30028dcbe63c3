package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Window bounds events per key to a limit within a fixed window that
// starts with the first event (dynamic client registrations per source
// address): P rl:{<kind>:<hash of key>}:n, the count, whose TTL is the
// window. It counts before deciding (rateScript), so a concurrent burst
// cannot exceed the limit; one key reaching it never limits another.
type Window struct {
	rdb          redis.UniversalClient
	prefix, kind string
	limit        int64
	window       time.Duration
}

// NewWindow returns a Window of limit events per window for keys of kind,
// kept under prefix+"rl:".
func NewWindow(rdb redis.UniversalClient, prefix, kind string, limit int, window time.Duration) *Window {
	return &Window{rdb: rdb, prefix: prefix, kind: kind, limit: int64(limit), window: window}
}

// Take counts one event of key and reports whether it is within the
// limit; when it is not, retry is how long until the window ends. An error
// means Redis could not count it.
func (w *Window) Take(ctx context.Context, key string) (ok bool, retry time.Duration, err error) {
	res, err := rateScript.Run(ctx, w.rdb, []string{keyBase(w.prefix, w.kind, key) + "n"}, w.window.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: count %s: %w", w.kind, err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("ratelimit: count %s: unexpected reply %v", w.kind, res)
	}
	if res[0] <= w.limit {
		return true, 0, nil
	}
	return false, max(time.Second, time.Duration(res[1])*time.Millisecond), nil
}
