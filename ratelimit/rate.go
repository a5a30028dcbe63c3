package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/internal/httpx"
)

// rateScript counts a request in a fixed window that starts with the first
// one and returns the count and the window's remaining milliseconds.
var rateScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`)

// rateWindow is the device authorization limit's window.
const rateWindow = time.Minute

// DeviceAuthorization bounds device authorization requests (each creates
// Redis state, successful or not) to DeviceAuthPerMinute per client and
// source address, counted before the request runs (increment, then decide:
// a burst cannot exceed it). Over the limit the answer is 429
// temporarily_unavailable with Retry-After. The client is named as
// ClientAuth names it; the route must have parsed the form.
func (l *Limiter) DeviceAuthorization(h http.Handler) http.Handler {
	if l == nil || l.cfg.DeviceAuthPerMinute <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := RequestClientID(r)
		if len(id) > 255 {
			id = id[:255]
		}
		key := keyBase(l.prefix, "da", id+"\x00"+Source(httpx.ClientIP(r))) + "n"
		var res []int64
		ok := l.call(r.Context(), func(ctx context.Context) error {
			var err error
			res, err = rateScript.Run(ctx, l.rdb, []string{key}, rateWindow.Milliseconds()).Int64Slice()
			return err
		})
		if !ok || len(res) != 2 || res[0] <= int64(l.cfg.DeviceAuthPerMinute) {
			h.ServeHTTP(w, r)
			return
		}
		secs := max(1, int((time.Duration(res[1])*time.Millisecond+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		httpx.WriteJSON(w, http.StatusTooManyRequests, map[string]string{
			"error":             "temporarily_unavailable",
			"error_description": fmt.Sprintf("Too many device authorization requests from this address; retry after %d s.", secs),
		})
	})
}
