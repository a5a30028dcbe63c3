package main

import (
	"github.com/authd/authd/internal/httpx"

	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"
)

// Request ids: every request gets one, taken from an incoming X-Request-Id
// (a load balancer's) when it is well-formed, generated otherwise. It is
// echoed in the response's X-Request-Id, put in the request context, added to
// every log record written with that context (see requestIDHandler), and
// logged with the request's outcome.

const requestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey{}).(string)
	return s
}

// validRequestID accepts 1-128 characters of [A-Za-z0-9._:-]: enough for
// UUIDs and the common load balancer formats, nothing that could forge a log
// line or a header.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requestIDs wraps h: it assigns the request id and logs each request (at
// debug level, or error for a 5xx) with its id, method, path, status,
// duration and client address (httpx.ClientIP). The query string is never
// logged: it may carry codes or tokens.
func requestIDs(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		sw := httpx.NewStatusWriter(w)
		start := time.Now()
		h.ServeHTTP(sw, r.WithContext(ctx))
		code := sw.Status()
		if code == 0 {
			code = http.StatusOK
		}
		level := slog.LevelDebug
		if code >= 500 {
			level = slog.LevelError
		}
		log.LogAttrs(ctx, level, "request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", code), slog.Duration("duration", time.Since(start)), slog.String("ip", httpx.ClientIP(r)))
	})
}

// requestIDHandler adds request_id to every record logged with a context
// that carries one (log.InfoContext(r.Context(), ...)).
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// withRequestIDs returns log with requestIDHandler in front of its handler.
func withRequestIDs(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(requestIDHandler); ok {
		return log
	}
	return slog.New(requestIDHandler{log.Handler()})
}
