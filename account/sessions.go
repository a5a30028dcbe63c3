package account

import (
	"context"
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/sessions"
	"github.com/authd/authd/storage"
)

// Sessions is what the API needs of the sessions home (sessions.Manager).
type Sessions interface {
	List(ctx context.Context, subject string) ([]sessions.Session, error)
	EndFor(ctx context.Context, subject, sid, reason string) error
	EndAll(ctx context.Context, subject, reason string, keep ...string) (int, error)
	// CurrentID is the session the request's cookie maps to ("": none).
	CurrentID(r *http.Request) string
}

// mountSessions mounts /api/me/sessions.
func (a *API) mountSessions(r *mux.Router) {
	r.HandleFunc("/api/me/sessions", a.caller(a.listSessions)).Methods(http.MethodGet)
	r.HandleFunc("/api/me/sessions/{id}", a.caller(a.endSession)).Methods(http.MethodDelete)
}

// listSessions lists the caller's browser sessions; current marks the one
// the request comes from: its cookie's, or the one the bearer token's
// grant was authorized in.
func (a *API) listSessions(w http.ResponseWriter, r *http.Request, c caller) {
	list, err := a.Sessions.List(r.Context(), c.subject)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	cookie := a.Sessions.CurrentID(r)
	out := make([]sessions.View, 0, len(list))
	for _, s := range list {
		out = append(out, s.View(isCurrent(s, cookie, c)))
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

// isCurrent: s is the session the request comes from, its cookie's or the
// one the bearer token's grant was authorized in.
func isCurrent(s sessions.Session, cookie string, c caller) bool {
	return s.ID == cookie || slices.ContainsFunc(s.Grants, func(g storage.SessionGrant) bool { return g.Grant == c.grant })
}

// endOtherSessions ends every session of the caller but the current ones
// (as the devices page's "Sign out all other devices" does).
func (a *API) endOtherSessions(r *http.Request, c caller) error {
	if a.Sessions == nil {
		return nil
	}
	list, err := a.Sessions.List(r.Context(), c.subject)
	if err != nil {
		return err
	}
	cookie := a.Sessions.CurrentID(r)
	var keep []string
	for _, s := range list {
		if isCurrent(s, cookie, c) {
			keep = append(keep, s.ID)
		}
	}
	_, err = a.Sessions.EndAll(r.Context(), c.subject, storage.RevokedLogoutAll, keep...)
	return err
}

// endSession ends one of the caller's sessions (404 for another's).
func (a *API) endSession(w http.ResponseWriter, r *http.Request, c caller) {
	if err := a.Sessions.EndFor(r.Context(), c.subject, mux.Vars(r)["id"], storage.RevokedByUser); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
