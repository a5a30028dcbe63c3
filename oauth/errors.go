package oauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/storage"
)

// The error funnel of the protocol endpoints. protocolError turns what the
// stores and fosite return into the RFC 6749 error a client must see; the
// endpoints then write it in their own shape: fosite's writers for the
// token (RFC 6749 §5.2) and authorization (§4.1.2.1) endpoints, and
// writeError for the JSON answers fosite's writers get wrong (revocation,
// introspection, bearer-token checks, device authorization). Pages a person
// sees get authorizeError's page instead.

// errUnavailable is what a client sees when a storage backend is down: 503,
// retry later, never a bare 500 and never a verdict about the token.
var errUnavailable = fosite.ErrTemporarilyUnavailable.WithHint("A storage backend is unavailable. Retry later.")

// errBusy: the slow client-secret checks are saturated (storage's
// VerifiedSecretCache waited too long for a slot). 503 with Retry-After,
// never invalid_client: the secret may well be right, and a 401 would count
// against the client in the limiter.
var errBusy = fosite.ErrTemporarilyUnavailable.WithHint("Too many client authentications are being checked. Retry in a moment.")

// errGrantGone: a lost race, or a grant revoked mid-flight.
var errGrantGone = fosite.ErrInvalidGrant.WithHint("The grant was already used, rotated or revoked.")

// protocolError maps storage-level failures to the OAuth errors clients must
// see: a lost race or a grant revoked mid-flight is invalid_grant; Redis or
// Postgres being unavailable is temporarily_unavailable (503). Anything
// else is returned as it is.
func protocolError(err error) error {
	switch {
	case errors.Is(err, storage.ErrStale), errors.Is(err, fosite.ErrSerializationFailure),
		errors.Is(err, storage.ErrRevoked):
		return errGrantGone
	case isUnavailable(err):
		return unavailable(err)
	case isServerError(err) && (errors.Is(err, fosite.ErrNotFound) || errors.Is(err, fosite.ErrInvalidatedAuthorizeCode)):
		// fosite's code flow looks the code up a second time while
		// building the response and calls a miss server_error: a
		// concurrent redemption won the code in between.
		return errGrantGone
	}
	return err
}

func isServerError(err error) bool {
	var e *fosite.RFC6749Error
	return errors.As(err, &e) && e.ErrorField == fosite.ErrServerError.ErrorField
}

// isUnavailable reports whether err means "retry later": a storage backend
// is down (the stores mark such failures with storage.ErrUnavailable;
// fosite keeps the chain of the errors it wraps), the slow client-secret
// checks are saturated (storage.ErrSecretChecksBusy, inside fosite's
// invalid_client), or a handler said so already with fosite's
// temporarily_unavailable.
func isUnavailable(err error) bool {
	return errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrSecretChecksBusy) ||
		errors.Is(err, fosite.ErrTemporarilyUnavailable)
}

// unavailable is the 503 an isUnavailable err gets: errBusy for saturated
// secret checks, errUnavailable otherwise.
func unavailable(err error) error {
	if errors.Is(err, storage.ErrSecretChecksBusy) {
		return errBusy
	}
	return errUnavailable
}

// writeError writes err as an RFC 6749 §5.2 JSON error with its status
// (fosite's error for anything that is not one: server_error, 500). A 401
// invalid_client carries the WWW-Authenticate challenge RFC 6749 §5.2
// requires for HTTP Basic.
func writeError(w http.ResponseWriter, err error) {
	var e *fosite.RFC6749Error
	if !errors.As(err, &e) {
		e = fosite.ErrServerError
	}
	basicChallenge(w, e)
	retryAfter(w, e)
	desc := e.DescriptionField
	if e.HintField != "" {
		desc = e.HintField
	}
	httpx.WriteJSON(w, e.CodeField, map[string]string{"error": e.ErrorField, "error_description": desc})
}

// basicChallenge adds the WWW-Authenticate challenge RFC 6749 §5.2 requires
// on a 401 invalid_client (failed client authentication). Every writer of
// the token, revocation and introspection endpoints' errors calls it.
func basicChallenge(w http.ResponseWriter, err error) {
	var e *fosite.RFC6749Error
	if errors.As(err, &e) && e.CodeField == http.StatusUnauthorized && e.ErrorField == fosite.ErrInvalidClient.ErrorField {
		w.Header().Set("WWW-Authenticate", `Basic realm="authd"`)
	}
}

// retryAfter asks a client answered 503 to retry in a second.
func retryAfter(w http.ResponseWriter, e *fosite.RFC6749Error) {
	if e.CodeField == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
}

// logError logs a failed protocol request: client errors at debug level
// (they are the client's business), server-side failures as errors with
// their root cause.
func (s *Server) logError(ctx context.Context, msg string, err error) {
	var e *fosite.RFC6749Error
	if errors.As(err, &e) && e.CodeField < 500 {
		s.log.DebugContext(ctx, msg, "error", e.ErrorField, "hint", e.HintField)
		return
	}
	s.log.ErrorContext(ctx, msg, "err", err, "cause", rootCause(err))
}

// rootCause is the innermost error's message: fosite's RFC 6749 errors print
// only their code ("server_error"), which says nothing about what failed.
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// authorizeError shows a page when the client or redirect URI can't be
// trusted (RFC 6749 §4.1.2.1: never redirect then) or the backend is down,
// and otherwise redirects the error to the client.
func (s *Server) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	if isUnavailable(err) {
		s.log.ErrorContext(r.Context(), "authorize: backend unavailable", "err", err)
		s.pages.RenderError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "authd cannot reach its storage right now. Please try again in a moment.")
		return
	}
	var e *fosite.RFC6749Error
	if errors.As(err, &e) && (ar == nil || !ar.IsRedirectURIValid()) {
		s.pages.RenderError(w, r, e.CodeField, "Invalid request", e.DescriptionField+" "+e.HintField)
		return
	}
	if !errors.As(err, &e) {
		s.log.ErrorContext(r.Context(), "authorize failed", "err", err)
		err = fosite.ErrServerError
	}
	s.provider.WriteAuthorizeError(r.Context(), w, ar, err)
}
