package account

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/web"
)

// Consents is the remembered consent store (postgres.DB).
type Consents interface {
	// ListConsents returns subject's remembered consents.
	ListConsents(ctx context.Context, subject string) ([]storage.Consent, error)
	// DeleteConsent forgets one (storage.ErrNotFound when there is none).
	DeleteConsent(ctx context.Context, subject, clientID string) error
}

// App is a client the user allowed: a remembered consent, or live grants
// (the device flow remembers no consent), or both.
type App struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	// Scopes are the scopes consented to (the remembered consent's), or,
	// without one, those of the app's live grants.
	Scopes []string `json:"scopes"`
	// ConsentRemembered: the next authorization skips the consent page.
	ConsentRemembered bool `json:"consent_remembered"`
	// LiveGrants counts the app's active grants (tokens that still work).
	LiveGrants int `json:"live_grants"`
}

// Apps lists the apps a user allowed and removes them: the one place both
// the API and the devices page go through.
type Apps struct {
	Grants   Grants
	Consents Consents
}

// List returns subject's apps: those with a remembered consent (oldest
// consent first), then those with only live grants (by client id). Two
// reads: the consents (Postgres) and the live grants (Postgres and one
// Redis round trip).
func (a Apps) List(ctx context.Context, subject string) ([]App, error) {
	cs, err := a.Consents.ListConsents(ctx, subject)
	if err != nil {
		return nil, err
	}
	live, err := a.Grants.List(ctx, subject, true)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*App, len(cs))
	var consented, others []*App
	for _, c := range cs {
		app := &App{ClientID: c.ClientID, ClientName: c.ClientName, Scopes: nonNil(c.Scopes), ConsentRemembered: true}
		byID[c.ClientID] = app
		consented = append(consented, app)
	}
	for _, g := range live {
		app := byID[g.ClientID]
		if app == nil {
			app = &App{ClientID: g.ClientID, ClientName: g.ClientName, Scopes: []string{}}
			byID[g.ClientID] = app
			others = append(others, app)
		}
		app.LiveGrants++
		if !app.ConsentRemembered {
			app.Scopes = union(app.Scopes, g.Scopes)
		}
	}
	slices.SortFunc(others, func(x, y *App) int { return strings.Compare(x.ClientID, y.ClientID) })
	out := make([]App, 0, len(byID))
	for _, app := range append(consented, others...) {
		out = append(out, *app)
	}
	return out, nil
}

// Remove withdraws subject's permission for the client: the remembered
// consent goes first (so no authorization racing the removal is granted
// silently), then every unrevoked grant of the user to the app is revoked
// through the grants home (reason "user"). storage.ErrNotFound when the
// user has neither a consent nor an unrevoked grant for the client.
func (a Apps) Remove(ctx context.Context, subject, clientID string) error {
	err := a.Consents.DeleteConsent(ctx, subject, clientID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	forgot := err == nil
	ids, err := a.Grants.RevokeClientFor(ctx, subject, clientID, storage.RevokedByUser)
	if err != nil {
		return err
	}
	if !forgot && len(ids) == 0 {
		return storage.ErrNotFound
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// union is have with the scopes of add it lacks, sorted.
func union(have, add []string) []string {
	for _, s := range add {
		if !slices.Contains(have, s) {
			have = append(have, s)
		}
	}
	slices.Sort(have)
	return have
}

// AppsPage is the devices page's view of the apps (web.Apps) over Apps.
type AppsPage struct{ Apps Apps }

var _ web.Apps = AppsPage{}

// ListApps returns subject's apps as the devices page shows them.
func (p AppsPage) ListApps(ctx context.Context, subject string) ([]web.App, error) {
	apps, err := p.Apps.List(ctx, subject)
	if err != nil {
		return nil, err
	}
	out := make([]web.App, 0, len(apps))
	for _, a := range apps {
		name := a.ClientName
		if name == "" {
			name = a.ClientID
		}
		out = append(out, web.App{ClientID: a.ClientID, Name: name, Scopes: a.Scopes, LiveGrants: a.LiveGrants})
	}
	return out, nil
}

// RemoveApp is Apps.Remove.
func (p AppsPage) RemoveApp(ctx context.Context, subject, clientID string) error {
	return p.Apps.Remove(ctx, subject, clientID)
}
