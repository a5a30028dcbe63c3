package httpx

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/authd/authd/storage"
)

// Problem is an error as an HTTP API answers it: status and the RFC 6749
// §5.2-shaped error code and description.
type Problem struct {
	Status      int
	Code        string
	Description string
}

// Error is an error that carries its own answer: a request the caller
// must fix (400 invalid_request), a conflict worded for what conflicts.
type Error struct{ Problem }

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Invalid is the 400 invalid_request answer with description.
func Invalid(description string) error {
	return &Error{Problem{http.StatusBadRequest, "invalid_request", description}}
}

// Classify maps a domain or storage error to its answer: an *Error its own
// Problem, not found 404, a conflict (storage.ErrConflict) 409, an
// unavailable backend 503 temporarily_unavailable (retry), anything else a
// 500 server_error (whose cause is logged, never shown).
func Classify(err error) Problem {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Problem
	case errors.Is(err, storage.ErrConflict):
		return Problem{http.StatusConflict, "conflict", "It conflicts with an existing record."}
	case errors.Is(err, storage.ErrNotFound):
		return Problem{http.StatusNotFound, "not_found", "No such grant, client or user."}
	case errors.Is(err, storage.ErrUnavailable):
		return Problem{http.StatusServiceUnavailable, "temporarily_unavailable", "A storage backend is unavailable. Retry later."}
	}
	return Problem{http.StatusInternalServerError, "server_error", "The server could not complete the request."}
}

// WriteError answers a JSON API request that failed with err, logging
// server-side failures (with the request's context, so its id) under msg.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, msg string, err error) {
	p := Classify(err)
	if p.Status >= 500 {
		log.ErrorContext(r.Context(), msg, "status", p.Status, "err", err)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, p.Status, map[string]string{"error": p.Code, "error_description": p.Description})
}

// WriteRevoked answers a JSON API request that ended grants: {"revoked":
// [ids]} (an empty list, never null), or err through WriteError.
func WriteRevoked(w http.ResponseWriter, r *http.Request, log *slog.Logger, msg string, ids []string, err error) {
	if err != nil {
		WriteError(w, r, log, msg, err)
		return
	}
	if ids == nil {
		ids = []string{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"revoked": ids})
}
