package logout

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"

	"github.com/gorilla/mux"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/web"
)

// Session is this browser's sign-in session, as the logout endpoint needs
// it.
type Session struct {
	ID       string // the OIDC sid
	Subject  string
	Username string
}

// Browser is this browser's sign-in session (the sessions area): Current
// reads it, SignOut ends it (firing the session's end listeners, among
// them the back-channel deliveries) and clears its cookie.
type Browser interface {
	Current(r *http.Request) (Session, bool)
	SignOut(w http.ResponseWriter, r *http.Request, reason string) error
}

// Hints verifies an id_token_hint (oauth.Server): the claims of an ID
// token authd signed, expired ones included.
type Hints interface {
	IDTokenHint(ctx context.Context, raw string) (map[string]any, error)
}

// Pages renders the logout pages (web.Pages).
type Pages interface {
	CSRF(h http.Handler) http.Handler
	RenderLogout(w http.ResponseWriter, r *http.Request, d web.LogoutPage)
	RenderSignedOut(w http.ResponseWriter, r *http.Request, signedOut bool)
	RenderError(w http.ResponseWriter, r *http.Request, status int, title, msg string)
	RenderFrontChannel(w http.ResponseWriter, r *http.Request, d web.FrontChannelPage)
}

// ReasonRPLogout is the reason given to Browser.SignOut (and so to the
// grants the session's end revokes): the user signed out, here at an app's
// request.
const ReasonRPLogout = storage.RevokedLogout

// EndSession is the RP-Initiated Logout 1.0 endpoint, and Front-Channel
// Logout 1.0 for the sessions it ends.
type EndSession struct {
	Issuer  string
	Browser Browser
	Hints   Hints
	Clients Clients
	Pages   Pages
	Logger  *slog.Logger
}

// Path is the end_session_endpoint's path; the confirmation form posts to
// ConfirmPath.
const (
	Path        = "/oauth2/logout"
	ConfirmPath = "/oauth2/logout/confirm"
)

// Mount mounts the logout routes. GET goes through the CSRF middleware
// only so the confirmation page carries a token (GET is never rejected);
// a POST from a relying party continues as the equivalent GET; the
// confirmation's POST is CSRF-checked.
func (e *EndSession) Mount(r *mux.Router) {
	r.Handle(Path, e.Pages.CSRF(http.HandlerFunc(e.endSession))).Methods(http.MethodGet)
	r.HandleFunc(Path, e.endSessionPost).Methods(http.MethodPost)
	r.Handle(ConfirmPath, e.Pages.CSRF(http.HandlerFunc(e.confirm))).Methods(http.MethodPost)
}

// maxForm bounds a logout request's body (an id_token_hint is a few KiB).
const maxForm = 64 << 10

// readForm parses the request's parameters: a repeated one is refused
// (which post_logout_redirect_uri would we trust?).
func readForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if r.ParseForm() != nil {
		return false
	}
	for _, v := range r.Form {
		if len(v) > 1 {
			return false
		}
	}
	return true
}

func (e *EndSession) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	e.Pages.RenderError(w, r, http.StatusBadRequest, "Invalid sign-out request", msg)
}

// endSessionPost continues a logout request sent as a form as the
// equivalent GET, which renders the confirmation page with its CSRF token.
func (e *EndSession) endSessionPost(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		e.badRequest(w, r, "The sign-out request could not be read (a parameter is repeated, or it is too large).")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, Path+"?"+r.Form.Encode(), http.StatusSeeOther)
}

func (e *EndSession) endSession(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		e.badRequest(w, r, "The sign-out request could not be read (a parameter is repeated, or it is too large).")
		return
	}
	req, err := e.parse(r.Context(), r.Form)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	cur, signedIn := e.Browser.Current(r)
	switch decide(req, cur, signedIn) {
	case actFinish:
		e.finish(w, r, req, !signedIn)
	case actSignOut:
		e.signOut(w, r, req)
	default:
		e.Pages.RenderLogout(w, r, web.LogoutPage{
			Client: clientName(req.client), Username: cur.Username, Action: ConfirmPath, Fields: req.fields(),
		})
	}
}

// confirm is the confirmation form's answer: sign out (or stay), then
// return to the app if its post_logout_redirect_uri is registered.
func (e *EndSession) confirm(w http.ResponseWriter, r *http.Request) {
	for _, v := range r.PostForm {
		if len(v) > 1 {
			e.badRequest(w, r, "A parameter is repeated.")
			return
		}
	}
	f := r.PostForm
	f.Del("id_token_hint") // the form never carries one: what it says was confirmed by the user
	req, err := e.parse(r.Context(), f)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	if f.Get("decision") != "logout" {
		_, signedIn := e.Browser.Current(r)
		e.finish(w, r, req, !signedIn)
		return
	}
	e.signOut(w, r, req)
}

func (e *EndSession) signOut(w http.ResponseWriter, r *http.Request, req request) {
	ctx, ended := recordEnded(r.Context())
	if err := e.Browser.SignOut(w, r.WithContext(ctx), ReasonRPLogout); err != nil {
		e.Logger.ErrorContext(r.Context(), "rp-initiated logout: sign out", "err", err)
		e.Pages.RenderError(w, r, http.StatusServiceUnavailable, "Sign-out unavailable",
			"Signing out is temporarily unavailable. Please try again in a moment.")
		return
	}
	if frames := e.frames(r.Context(), ended); len(frames) > 0 {
		e.Pages.RenderFrontChannel(w, r, web.FrontChannelPage{Frames: frames, Next: req.returnURL()})
		return
	}
	e.finish(w, r, req, true)
}

// finish returns the browser to the app's registered
// post_logout_redirect_uri with state, or shows where it stands.
func (e *EndSession) finish(w http.ResponseWriter, r *http.Request, req request, signedOut bool) {
	if req.redirect == "" {
		e.Pages.RenderSignedOut(w, r, signedOut)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, req.returnURL(), http.StatusSeeOther)
}

// returnURL is the registered post_logout_redirect_uri with state, or "".
func (req request) returnURL() string {
	if req.redirect == "" {
		return ""
	}
	u, _ := url.Parse(req.redirect) // checked in parse
	if req.state != "" {
		q := u.Query()
		q.Set("state", req.state)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func (e *EndSession) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bad badRequestError
	if errors.As(err, &bad) {
		e.badRequest(w, r, string(bad))
		return
	}
	e.Logger.ErrorContext(r.Context(), "rp-initiated logout", "err", err)
	e.Pages.RenderError(w, r, http.StatusServiceUnavailable, "Sign-out unavailable",
		"Signing out is temporarily unavailable. Please try again in a moment.")
}

func clientName(c *storage.Client) string {
	switch {
	case c == nil:
		return ""
	case c.Name != "":
		return c.Name
	}
	return c.ID
}

// registered reports whether uri is one of c's post-logout redirect URIs
// (exact match).
func registered(c *storage.Client, uri string) bool {
	return c != nil && slices.Contains(c.PostLogoutRedirectURIs, uri)
}
