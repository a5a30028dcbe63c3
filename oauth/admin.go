package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

// GrantsScope is the scope an access token needs for the /api/me/grants API.
const GrantsScope = "grants"

// ---------------------------------------------------------------------------
// Admin API: a static bearer token (AUTHD_ADMIN_TOKEN). Without one
// configured the API does not exist (404).

// adminOnly admits requests bearing the admin token.
func (s *Server) adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken == "" || s.grants == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
			return
		}
		tok, ok := bearer(r)
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="authd-admin", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{
				"error": "invalid_token", "error_description": "The admin token is missing or wrong.",
			})
			return
		}
		h(w, r)
	}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", false
	}
	t := strings.TrimSpace(h[7:])
	return t, t != ""
}

func activeParam(r *http.Request) bool {
	v := r.URL.Query().Get("active")
	return v == "true" || v == "1"
}

func (s *Server) adminListGrants(w http.ResponseWriter, r *http.Request) {
	gs, err := s.grants.List(r.Context(), mux.Vars(r)["sub"], activeParam(r))
	if err != nil {
		s.grantsError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"grants": gs})
}

func (s *Server) adminCountGrants(w http.ResponseWriter, r *http.Request) {
	n, err := s.grants.Count(r.Context(), mux.Vars(r)["sub"], activeParam(r))
	if err != nil {
		s.grantsError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": n})
}

func (s *Server) adminRevokeGrant(w http.ResponseWriter, r *http.Request) {
	if err := s.grants.RevokeFor(r.Context(), "", mux.Vars(r)["id"], storage.RevokedByAdmin); err != nil {
		s.grantsError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminRevokeSubject(w http.ResponseWriter, r *http.Request) {
	ids, err := s.grants.RevokeAll(r.Context(), mux.Vars(r)["sub"], storage.RevokedByAdmin)
	if err != nil {
		s.grantsError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": nonNil(ids)})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// grantsError writes a storage error of the grant APIs.
func (s *Server) grantsError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, fosite.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "No such grant."})
	case unavailable(err):
		s.log.ErrorContext(r.Context(), "grants api: backend unavailable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
	default:
		s.log.ErrorContext(r.Context(), "grants api", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
	}
}

// ---------------------------------------------------------------------------
// User API: the signed-in user's own grants, with a bearer access token
// carrying the "grants" scope.

type meCtxKey struct{}

// caller is who a /api/me request acts for.
type caller struct {
	subject string
	grant   string // the grant of the presented access token
}

// withGrantsToken admits requests bearing a live access token with the
// grants scope (RFC 6750 errors otherwise).
func (s *Server) withGrantsToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.grants == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
			return
		}
		ar, ok := s.accessTokenCaller(w, r, GrantsScope)
		if !ok {
			return
		}
		sub := ar.GetSession().GetSubject()
		if sub == "" { // a client_credentials token: no user's grants to show
			w.Header().Set("WWW-Authenticate", `Bearer realm="authd", error="insufficient_scope", scope="`+GrantsScope+`"`)
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": "The access token is not a user's."})
			return
		}
		ctx := context.WithValue(r.Context(), meCtxKey{}, caller{subject: sub, grant: ar.GetID()})
		h(w, r.WithContext(ctx))
	}
}

func callerFrom(r *http.Request) caller {
	c, _ := r.Context().Value(meCtxKey{}).(caller)
	return c
}

func (s *Server) meListGrants(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	gs, err := s.grants.List(r.Context(), c.subject, !(r.URL.Query().Get("active") == "false"))
	if err != nil {
		s.grantsError(w, r, err)
		return
	}
	for i := range gs {
		gs[i].Current = gs[i].ID == c.grant
	}
	writeJSON(w, http.StatusOK, map[string]any{"grants": gs})
}

func (s *Server) meRevokeGrant(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	if err := s.grants.RevokeFor(r.Context(), c.subject, mux.Vars(r)["id"], storage.RevokedByUser); err != nil {
		s.grantsError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) meRevokeOthers(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	ids, err := s.grants.RevokeAll(r.Context(), c.subject, storage.RevokedLogoutAll, c.grant)
	if err != nil {
		s.grantsError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": nonNil(ids)})
}
