package httpx

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/authd/authd/storage"
)

// BearerHeader returns the token of an "Authorization: Bearer" header
// (RFC 6750 §2.1; the scheme is case-insensitive), and whether the header
// carried a non-empty one.
func BearerHeader(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", false
	}
	t := strings.TrimSpace(h[7:])
	return t, t != ""
}

// StatusWriter records the status code written through it (0 until the
// handler writes; Status reports 200 for a handler that only wrote a body).
type StatusWriter struct {
	http.ResponseWriter
	code int
}

// NewStatusWriter wraps w.
func NewStatusWriter(w http.ResponseWriter) *StatusWriter { return &StatusWriter{ResponseWriter: w} }

func (w *StatusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Status is the code written so far: 0 when nothing was, else the code.
func (w *StatusWriter) Status() int { return w.code }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WriteJSON writes v as JSON with status; every authd JSON answer is
// uncacheable.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// RequestMeta is the caller's address (ClientIP) and User-Agent, cleaned
// for storage (valid UTF-8, no control characters, bounded:
// storage.CleanText): what a grant records of the browser that authorized
// it and of the requests that use it.
func RequestMeta(r *http.Request) storage.RequestMeta {
	return storage.RequestMeta{IP: ClientIP(r), UserAgent: r.UserAgent()}.Clean()
}
