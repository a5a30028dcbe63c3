package admin

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/authd/authd/grants"
	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/sessions"
	"github.com/authd/authd/storage"
)

// Grants is what the admin API needs of the grants home (grants.Manager).
type Grants interface {
	List(ctx context.Context, subject string, activeOnly bool) ([]grants.View, error)
	Count(ctx context.Context, subject string, activeOnly bool) (int, error)
	RevokeFor(ctx context.Context, subject, id, reason string) error
	RevokeAll(ctx context.Context, subject, reason string, keep ...string) ([]string, error)
}

// Sessions is what the admin API needs of the sessions home
// (sessions.Manager).
type Sessions interface {
	List(ctx context.Context, subject string) ([]sessions.Session, error)
	EndAll(ctx context.Context, subject, reason string, keep ...string) (int, error)
}

// API is the admin API.
type API struct {
	// Token is the bearer token the API requires; empty: no API (404).
	Token  string
	Grants Grants
	Users  Users // users.go
	// Clients and ClientPages: clients.go.
	Clients     Clients
	ClientPages ClientPages
	// Sessions backs /admin/subjects/{sub}/sessions; revoking a subject's
	// grants also ends its sessions when it is set.
	Sessions Sessions
	Logger   *slog.Logger
}

// Mount mounts the API's routes; openapi.json describes each of them
// (TestOpenAPICoversRoutes).
func (a *API) Mount(r *mux.Router) {
	r.HandleFunc("/admin/openapi.json", a.only(serveOpenAPI)).Methods(http.MethodGet)
	r.HandleFunc("/admin/subjects/{sub}/grants", a.only(a.listGrants)).Methods(http.MethodGet)
	r.HandleFunc("/admin/subjects/{sub}/grants", a.only(a.revokeSubject)).Methods(http.MethodDelete)
	r.HandleFunc("/admin/subjects/{sub}/grants/count", a.only(a.countGrants)).Methods(http.MethodGet)
	r.HandleFunc("/admin/grants/{id}", a.only(a.revokeGrant)).Methods(http.MethodDelete)
	r.HandleFunc("/admin/users", a.only(a.listUsers)).Methods(http.MethodGet)
	r.HandleFunc("/admin/users", a.only(a.createUser)).Methods(http.MethodPost)
	r.HandleFunc("/admin/users/{subject}", a.only(a.getUser)).Methods(http.MethodGet)
	r.HandleFunc("/admin/users/{subject}", a.only(a.updateUser)).Methods(http.MethodPut)
	r.HandleFunc("/admin/users/{subject}", a.only(a.deleteUser)).Methods(http.MethodDelete)
	r.HandleFunc("/admin/clients", a.only(a.listClients)).Methods(http.MethodGet)
	r.HandleFunc("/admin/clients", a.only(a.createClient)).Methods(http.MethodPost)
	r.HandleFunc("/admin/clients/{id}", a.only(a.getClient)).Methods(http.MethodGet)
	r.HandleFunc("/admin/clients/{id}", a.only(a.updateClient)).Methods(http.MethodPut)
	r.HandleFunc("/admin/clients/{id}", a.only(a.deleteClient)).Methods(http.MethodDelete)
	r.HandleFunc("/admin/clients/{id}/rotate-secret", a.only(a.rotateSecret)).Methods(http.MethodPost)
	if a.Sessions != nil {
		r.HandleFunc("/admin/subjects/{sub}/sessions", a.only(a.listSessions)).Methods(http.MethodGet)
		r.HandleFunc("/admin/subjects/{sub}/sessions", a.only(a.endSessions)).Methods(http.MethodDelete)
	}
}

// only admits requests bearing the admin token (compared in constant time).
func (a *API) only(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.Token == "" {
			httpx.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
			return
		}
		tok, ok := httpx.BearerHeader(r)
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(a.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="authd-admin", error="invalid_token"`)
			httpx.WriteJSON(w, http.StatusUnauthorized, map[string]string{
				"error": "invalid_token", "error_description": "The admin token is missing or wrong.",
			})
			return
		}
		h(w, r)
	}
}

// activeOnly reads ?active=true (or 1): only active grants.
func activeOnly(r *http.Request) bool {
	v := r.URL.Query().Get("active")
	return v == "true" || v == "1"
}

// listGrants lists a subject's grants, most recently used first. A
// subject has few grants: the page is cut from the whole listing, and the
// cursor is the position in it.
func (a *API) listGrants(w http.ResponseWriter, r *http.Request) {
	p, err := readPage(r, "g")
	var gs []grants.View
	if err == nil {
		gs, err = a.Grants.List(r.Context(), mux.Vars(r)["sub"], activeOnly(r))
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	from := 0
	if p.key != "" {
		if from, err = strconv.Atoi(p.key); err != nil || from < 0 {
			a.fail(w, r, httpx.Invalid("cursor is not a next_cursor of this listing."))
			return
		}
	}
	from = min(from, len(gs))
	to := min(from+p.limit, len(gs))
	out := list[grants.View]{Items: nonNil(gs[from:to])}
	if to < len(gs) {
		out.NextCursor = cursor("g", strconv.Itoa(to))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) countGrants(w http.ResponseWriter, r *http.Request) {
	n, err := a.Grants.Count(r.Context(), mux.Vars(r)["sub"], activeOnly(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int{"count": n})
}

func (a *API) revokeGrant(w http.ResponseWriter, r *http.Request) {
	if err := a.Grants.RevokeFor(r.Context(), "", mux.Vars(r)["id"], storage.RevokedByAdmin); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// revokeSubject revokes every grant of the subject and ends its sessions
// (after a password change, say, no browser stays signed in).
func (a *API) revokeSubject(w http.ResponseWriter, r *http.Request) {
	sub := mux.Vars(r)["sub"]
	ids, err := a.Grants.RevokeAll(r.Context(), sub, storage.RevokedByAdmin)
	if err == nil && a.Sessions != nil {
		_, err = a.Sessions.EndAll(r.Context(), sub, storage.RevokedByAdmin)
	}
	httpx.WriteRevoked(w, r, a.Logger, "admin api", ids, err)
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	list, err := a.Sessions.List(r.Context(), mux.Vars(r)["sub"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]sessions.View, 0, len(list))
	for _, s := range list {
		out = append(out, s.View(false))
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": out}) // one page: a user has few sessions
}

// endSessions ends every session of the subject (and the grants born
// from them that are not offline).
func (a *API) endSessions(w http.ResponseWriter, r *http.Request) {
	n, err := a.Sessions.EndAll(r.Context(), mux.Vars(r)["sub"], storage.RevokedByAdmin)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int{"ended": n})
}

// fail answers a failed request through the one error funnel: 404 for a
// grant that does not exist (or is not the caller's), 503 when a store is
// unavailable, 500 otherwise (logged).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpx.WriteError(w, r, a.Logger, "admin api", err)
}
