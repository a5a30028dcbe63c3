package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authd/authd/internal/httpx"
)

// Refusal answers a request refused because it is blocked for retryAfter
// seconds (the Retry-After header is already set).
type Refusal func(w http.ResponseWriter, r *http.Request, retryAfter int)

// busyWait bounds how long an attempt waits for a place while the limit's
// attempts are all in flight; then it is refused for a second.
const busyWait = 2 * time.Second

// Key kinds: the (account, source) pair, the source, the account.
var (
	clientKinds = [3]string{"cp", "ipc", "c"}
	signInKinds = [3]string{"up", "ipl", "u"}
)

// guarded is one request through the limiter.
type guarded struct {
	l      *Limiter
	a      attempt
	fast   string // the clear-cache key ("" : sign-in, always asks Redis)
	refuse Refusal
}

// serve runs h for the request unless it is refused, and settles the
// attempt by h's answer: 401 is what the guarded endpoints answer for
// failed client authentication (invalid_client) and a wrong password.
func (g guarded) serve(w http.ResponseWriter, r *http.Request, h http.Handler) {
	reserved, ok := g.admit(w, r)
	if !ok {
		return
	}
	rec := httpx.NewStatusWriter(w)
	h.ServeHTTP(rec, r)
	switch failed := rec.Status() == http.StatusUnauthorized; {
	case failed:
		if g.fast != "" {
			g.l.clear.Remove(g.fast)
		}
		g.l.settle(r.Context(), g.a, "f", reserved)
	case reserved == nil:
		// fast path, or Redis could not be asked: nothing to give back
	default:
		g.l.settle(r.Context(), g.a, "s", reserved)
		if g.fast != "" {
			g.l.clear.Add(g.fast, struct{}{})
		}
	}
}

// admit decides whether the attempt runs: it has answered when ok is
// false. reserved tells which identities hold a place (nil: none, on the
// fast path or when Redis could not be asked).
func (g guarded) admit(w http.ResponseWriter, r *http.Request) (reserved []bool, ok bool) {
	ctx := r.Context()
	deadline := time.Now().Add(busyWait)
	for {
		if g.fast != "" && g.l.cleared(g.fast) {
			return nil, true
		}
		replies, accountFailures, asked := g.l.reserve(ctx, g.a)
		if !asked {
			return nil, true
		}
		v := decide(replies, accountFailures, g.l.cfg)
		reserved = make([]bool, len(replies))
		for i, rp := range replies {
			reserved[i] = rp.wait == 0
		}
		if v.block == 0 && !v.busy {
			return reserved, sleep(ctx, v.delay) || g.gone(r, reserved)
		}
		g.l.settle(ctx, g.a, "r", reserved)
		if v.busy && time.Now().Before(deadline) && sleep(ctx, time.Duration(15+rand.IntN(20))*time.Millisecond) {
			continue
		}
		g.refuseFor(w, r, max(v.block, time.Second))
		return nil, false
	}
}

// gone gives the places back when the caller left during the slowdown.
func (g guarded) gone(r *http.Request, reserved []bool) bool {
	g.l.settle(r.Context(), g.a, "r", reserved)
	return false
}

func (g guarded) refuseFor(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	g.refuse(w, r, secs)
}

// cleared reports whether key just succeeded (an unexpired entry: the
// cache's Contains would also report expired ones).
func (l *Limiter) cleared(key string) bool {
	_, ok := l.clear.Get(key)
	return ok
}

// sleep waits d (false when ctx ended first).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ClientAuth guards an endpoint that authenticates clients (token,
// revocation, introspection, device authorization). It names the client by
// its HTTP Basic credentials or, without them, by the client_id of the
// request's form, which the route must have parsed already (the limiter
// reads exactly the form the endpoint uses and never reads the body
// itself). A public client, or a request naming none (private_key_jwt),
// is counted by its source address only. Blocked callers get 429
// invalid_client.
func (l *Limiter) ClientAuth(h http.Handler) http.Handler {
	if l.off() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src := Source(httpx.ClientIP(r))
		id := RequestClientID(r)
		if len(id) > 255 {
			id = ""
		}
		g := guarded{l: l, refuse: refuseClient}
		if id != "" {
			g.a = newAttempt(l.prefix, clientKinds, id, src, l.cfg)
			if l.cleared(g.a.pair.base) {
				g.fast = g.a.pair.base
				g.serve(w, r, h)
				return
			}
			if l.public != nil && l.public.IsPublic(r.Context(), id) {
				id = ""
			}
		}
		if id == "" {
			g.a = newAttempt(l.prefix, clientKinds, "", src, l.cfg)
		}
		g.fast = g.a.keys()[0].base
		g.serve(w, r, h)
	})
}

func refuseClient(w http.ResponseWriter, _ *http.Request, secs int) {
	httpx.WriteJSON(w, http.StatusTooManyRequests, map[string]string{
		"error": "invalid_client", "error_description": fmt.Sprintf("Too many failed attempts; retry after %d s.", secs),
	})
}

// SignIn guards the sign-in form's POST: failures are counted per
// (username, source), per source and, as a slowdown, per username (as the
// form gives it: the limiter reads it with the same PostFormValue the
// sign-in handler uses, whatever the encoding); refuse renders the page a
// blocked person sees. Every attempt asks Redis.
func (l *Limiter) SignIn(refuse func(w http.ResponseWriter, r *http.Request, retryAfter int), h http.Handler) http.Handler {
	if l.off() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		u := strings.ToLower(strings.TrimSpace(r.PostFormValue("username")))
		if len(u) > 200 {
			u = ""
		}
		g := guarded{l: l, a: newAttempt(l.prefix, signInKinds, u, Source(httpx.ClientIP(r)), l.cfg), refuse: refuse}
		g.serve(w, r, h)
	})
}
