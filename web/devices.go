package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"github.com/authd/authd/sessions"
	"github.com/authd/authd/storage"
)

// Devices is what the "your devices" page needs: a subject's grants and
// their revocation. Package account implements it over the grants home;
// web imports neither.
type Devices interface {
	// ListDevices returns every grant of subject still on record, active or
	// not, most recently used first.
	ListDevices(ctx context.Context, subject string) ([]Device, error)
	// RevokeDevice revokes one of subject's grants. It returns
	// storage.ErrNotFound when the grant does not exist or is someone else's.
	RevokeDevice(ctx context.Context, subject, id string) error
	// RevokeOtherDevices revokes every active grant of subject except those
	// in keep, and returns how many it revoked.
	RevokeOtherDevices(ctx context.Context, subject string, keep ...string) (int, error)
}

// Device is one grant as the devices page shows it.
type Device struct {
	ID         string
	App        string // client name, or id
	Label      string // from the User-Agent: "Firefox on Linux"
	UserAgent  string
	FirstIP    string
	LastIP     string
	FirstSeen  time.Time
	LastActive time.Time
	Scopes     []string
	// Active: its tokens still work.
	Active bool
	// EndedAt and EndReason tell, for an inactive grant, when and why it
	// ended ("user", "logout_all", "expired", ...).
	EndedAt   time.Time
	EndReason string
	// ThisBrowser: the grant was authorized in the browser viewing the page.
	ThisBrowser bool
}

// DeviceHistory is how long ended grants stay listed on the page.
const DeviceHistory = 30 * 24 * time.Hour

// devicesPath is the page's address.
const devicesPath = "/account/devices"

// deviceRoutes mounts the devices page and its forms.
func (p *Pages) deviceRoutes(r *mux.Router) {
	r.Handle(devicesPath, p.CSRF(http.HandlerFunc(p.devicesPage))).Methods(http.MethodGet)
	r.Handle(devicesPath+"/revoke-others", p.revokeForm(p.revokeOthers, backToDevices("others"))).Methods(http.MethodPost)
	r.Handle(devicesPath+"/revoke-all", p.revokeForm(p.revokeEverywhere, p.logout)).Methods(http.MethodPost)
	r.Handle(devicesPath+"/{id}/revoke", p.revokeForm(p.revokeDevice, backToDevices("revoked"))).Methods(http.MethodPost)
	r.Handle(devicesPath+"/sessions/{sid}/end", p.revokeForm(p.endSession, backToDevices("session"))).Methods(http.MethodPost)
}

// signedIn returns the login session or sends the browser to sign in and
// come back to the devices page.
func (p *Pages) signedIn(w http.ResponseWriter, r *http.Request) (*sessions.Session, bool) {
	s, ok := p.Current(r)
	if !ok {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(devicesPath), http.StatusSeeOther)
		return nil, false
	}
	return s, true
}

func (p *Pages) devicesUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	p.cfg.Logger.ErrorContext(r.Context(), "devices page", "err", err)
	p.RenderError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "Your devices cannot be shown or changed right now. Please try again in a moment.")
}

// BrowserSession is one sign-in session as the devices page shows it.
type BrowserSession struct {
	sessions.Session
	// ThisBrowser: the session of the browser viewing the page.
	ThisBrowser bool
}

func (p *Pages) devicesPage(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	all, err := p.cfg.Devices.ListDevices(r.Context(), s.Subject)
	if err != nil {
		p.devicesUnavailable(w, r, err)
		return
	}
	browsers, mine, err := p.browserSessions(r.Context(), s)
	if err != nil {
		p.devicesUnavailable(w, r, err)
		return
	}
	cutoff := time.Now().Add(-DeviceHistory)
	var active, history []Device
	for _, d := range all {
		d.ThisBrowser = mine[d.ID]
		switch {
		case d.Active:
			active = append(active, d)
		case d.EndedAt.After(cutoff):
			history = append(history, d)
		}
	}
	p.render(w, r, http.StatusOK, "devices.html", map[string]any{
		"Title": "Your devices", "Username": s.Username, "Active": active, "History": history,
		"Sessions": browsers, "Notice": notices[r.URL.Query().Get("done")],
	})
}

// notices are the confirmations shown after a form, chosen by a fixed key
// so no text is reflected from the URL.
var notices = map[string]string{
	"revoked": "The device was signed out.",
	"others":  "All other devices were signed out.",
	"session": "That browser was signed out.",
}

// browserSessions lists the user's sign-in sessions, this browser's first,
// and the grants authorized in this browser's session.
func (p *Pages) browserSessions(ctx context.Context, s *sessions.Session) ([]BrowserSession, map[string]bool, error) {
	list, err := p.cfg.Sessions.List(ctx, s.Subject)
	if err != nil {
		return nil, nil, err
	}
	out := make([]BrowserSession, 0, len(list))
	mine := map[string]bool{}
	for _, b := range list {
		if b.ID != s.ID {
			out = append(out, BrowserSession{Session: b})
			continue
		}
		out = append([]BrowserSession{{Session: b, ThisBrowser: true}}, out...)
		for _, g := range b.Grants {
			mine[g.Grant] = true
		}
	}
	return out, mine, nil
}

// errNoSuchDevice: the grant a form names is not the signed-in user's (or
// does not exist).
var errNoSuchDevice = errors.New("no such device")

// revokeForm answers one of the page's revoke forms: for the signed-in
// user, revoke ends grants, then done answers; errNoSuchDevice is a 404,
// any other failure the page's 503.
func (p *Pages) revokeForm(revoke func(*http.Request, *sessions.Session) error, done http.HandlerFunc) http.Handler {
	return p.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := p.signedIn(w, r)
		if !ok {
			return
		}
		err := revoke(r, s)
		switch {
		case errors.Is(err, errNoSuchDevice):
			p.RenderError(w, r, http.StatusNotFound, "No such device", "This device is not signed in to your account.")
		case err != nil:
			p.devicesUnavailable(w, r, err)
		default:
			done(w, r)
		}
	}))
}

// backToDevices sends the browser back to the page, saying what was done.
func backToDevices(done string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, devicesPath+"?done="+done, http.StatusSeeOther)
	}
}

// revokeDevice signs out the one device the form names.
func (p *Pages) revokeDevice(r *http.Request, s *sessions.Session) error {
	err := p.cfg.Devices.RevokeDevice(r.Context(), s.Subject, mux.Vars(r)["id"])
	if errors.Is(err, storage.ErrNotFound) {
		return errNoSuchDevice
	}
	return err
}

// revokeOthers signs out every device but the grants authorized in this
// browser, and every other browser; this browser stays signed in.
func (p *Pages) revokeOthers(r *http.Request, s *sessions.Session) error {
	_, mine, err := p.browserSessions(r.Context(), s)
	if err != nil {
		return err
	}
	keep := make([]string, 0, len(mine))
	for id := range mine {
		keep = append(keep, id)
	}
	if _, err := p.cfg.Devices.RevokeOtherDevices(r.Context(), s.Subject, keep...); err != nil {
		return err
	}
	_, err = p.cfg.Sessions.EndAll(r.Context(), s.Subject, storage.RevokedLogoutAll, s.ID)
	return err
}

// revokeEverywhere signs out every device and ends every session of the
// user, this browser's too; its form then clears this browser's cookie.
func (p *Pages) revokeEverywhere(r *http.Request, s *sessions.Session) error {
	if _, err := p.cfg.Devices.RevokeOtherDevices(r.Context(), s.Subject); err != nil {
		return err
	}
	_, err := p.cfg.Sessions.EndAll(r.Context(), s.Subject, storage.RevokedLogoutAll)
	return err
}

// endSession signs out the browser session the form names (this one's too).
func (p *Pages) endSession(r *http.Request, s *sessions.Session) error {
	err := p.cfg.Sessions.EndFor(r.Context(), s.Subject, mux.Vars(r)["sid"], storage.RevokedByUser)
	if errors.Is(err, storage.ErrNotFound) {
		return errNoSuchDevice
	}
	return err
}
