package account

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/authd/authd/grants"
	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/storage"
)

// Scope is the scope an access token needs for the API.
const Scope = "grants"

// Grants is what the account needs of the grants home (grants.Manager).
type Grants interface {
	List(ctx context.Context, subject string, activeOnly bool) ([]grants.View, error)
	RevokeFor(ctx context.Context, subject, id, reason string) error
	RevokeAll(ctx context.Context, subject, reason string, keep ...string) ([]string, error)
	RevokeClientFor(ctx context.Context, subject, clientID, reason string) ([]string, error)
}

// Tokens authenticates the bearer access token of a request (oauth.Server):
// its subject ("" for a client's own token) and grant. On failure it has
// written the RFC 6750 answer and returns false.
type Tokens interface {
	AuthenticateBearer(w http.ResponseWriter, r *http.Request, scope string) (subject, grant string, ok bool)
}

// API is the /api/me grants and apps API.
type API struct {
	Grants Grants
	// Apps backs /api/me/apps (its Grants is the same grants home).
	Apps   Apps
	Tokens Tokens
	// Sessions backs /api/me/sessions (not mounted when nil).
	Sessions Sessions
	Logger   *slog.Logger
}

// Mount mounts the API's routes.
func (a *API) Mount(r *mux.Router) {
	r.HandleFunc("/api/me/grants", a.caller(a.list)).Methods(http.MethodGet)
	r.HandleFunc("/api/me/grants/revoke-others", a.caller(a.revokeOthers)).Methods(http.MethodPost)
	r.HandleFunc("/api/me/grants/{id}", a.caller(a.revoke)).Methods(http.MethodDelete)
	r.HandleFunc("/api/me/apps", a.caller(a.listApps)).Methods(http.MethodGet)
	r.HandleFunc("/api/me/apps/{client_id:.+}", a.caller(a.removeApp)).Methods(http.MethodDelete)
	if a.Sessions != nil {
		a.mountSessions(r)
	}
}

// caller is who a request acts for.
type caller struct {
	subject string
	grant   string // the grant of the presented access token
}

// caller admits requests bearing a live access token of a user with the
// grants scope (RFC 6750 errors otherwise).
func (a *API) caller(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, grant, ok := a.Tokens.AuthenticateBearer(w, r, Scope)
		if !ok {
			return
		}
		if sub == "" { // a client_credentials token: no user's grants to show
			w.Header().Set("WWW-Authenticate", `Bearer realm="authd", error="insufficient_scope", scope="`+Scope+`"`)
			httpx.WriteJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": "The access token is not a user's."})
			return
		}
		h(w, r, caller{subject: sub, grant: grant})
	}
}

func (a *API) list(w http.ResponseWriter, r *http.Request, c caller) {
	gs, err := a.Grants.List(r.Context(), c.subject, r.URL.Query().Get("active") != "false")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for i := range gs {
		gs[i].Current = gs[i].ID == c.grant
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"grants": gs})
}

func (a *API) revoke(w http.ResponseWriter, r *http.Request, c caller) {
	if err := a.Grants.RevokeFor(r.Context(), c.subject, mux.Vars(r)["id"], storage.RevokedByUser); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listApps(w http.ResponseWriter, r *http.Request, c caller) {
	apps, err := a.Apps.List(r.Context(), c.subject)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"apps": apps})
}

// removeApp revokes the app's grants and forgets its consent: 204, 404 for
// an app the caller never allowed (or has nothing left of).
func (a *API) removeApp(w http.ResponseWriter, r *http.Request, c caller) {
	if err := a.Apps.Remove(r.Context(), c.subject, mux.Vars(r)["client_id"]); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) revokeOthers(w http.ResponseWriter, r *http.Request, c caller) {
	// Other browsers first: a session left alive could authorize anew.
	err := a.endOtherSessions(r, c)
	var ids []string
	if err == nil {
		ids, err = a.Grants.RevokeAll(r.Context(), c.subject, storage.RevokedLogoutAll, c.grant)
	}
	httpx.WriteRevoked(w, r, a.Logger, "account api", ids, err)
}

// fail answers a failed request through the one error funnel: 404 for a
// grant that does not exist (or is not the caller's), 503 when a store is
// unavailable, 500 otherwise (logged).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpx.WriteError(w, r, a.Logger, "account api", err)
}
