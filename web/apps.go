package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/authd/authd/sessions"
	"github.com/authd/authd/storage"
)

// Apps is what the devices page needs for "Apps you've allowed": the apps
// a user allowed and their removal. Package account implements it (the
// same service as GET and DELETE /api/me/apps).
type Apps interface {
	// ListApps returns the apps subject allowed: a remembered consent, or
	// live grants, or both.
	ListApps(ctx context.Context, subject string) ([]App, error)
	// RemoveApp revokes subject's grants to the app and forgets the
	// consent, so the next authorization asks again. storage.ErrNotFound
	// when the user allowed no such app.
	RemoveApp(ctx context.Context, subject, clientID string) error
}

// App is one allowed app as the devices page shows it.
type App struct {
	ClientID string
	Name     string // client name, or id
	Scopes   []string
	// LiveGrants counts its active grants.
	LiveGrants int
}

// appsPath is where an app's "Remove access" form posts (the app's client
// id in the query).
const appsPath = devicesPath + "/apps/remove"

// listApps returns the apps the page shows (none without Config.Apps).
func (p *Pages) listApps(ctx context.Context, s *sessions.Session) ([]App, error) {
	if p.cfg.Apps == nil {
		return nil, nil
	}
	return p.cfg.Apps.ListApps(ctx, s.Subject)
}

// removeApp answers an app's "Remove access" form (behind CSRF): the app
// loses its grants and its remembered consent; an app the user never
// allowed is a 404.
func (p *Pages) removeApp(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	err := p.cfg.Apps.RemoveApp(r.Context(), s.Subject, r.FormValue("client_id"))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		p.RenderError(w, r, http.StatusNotFound, "No such app", "This app has no access to your account.")
	case err != nil:
		p.devicesUnavailable(w, r, err)
	default:
		backToDevices("app")(w, r)
	}
}
