package web

import (
	"net/http"
	"net/url"
	"strings"
)

// LogoutPage is the data of the sign-out confirmation page (RP-initiated
// logout without a hint that proves the request comes from the signed-in
// user's app): a form that posts to Action with the hidden Fields and a
// decision of "logout" or "stay".
type LogoutPage struct {
	Client   string // the app asking, "" when the request names none
	Username string // who is signed in here
	Action   string
	Fields   map[string]string
}

// RenderLogout renders the sign-out confirmation form (CSRF-protected: a
// cross-site link cannot sign anyone out).
func (p *Pages) RenderLogout(w http.ResponseWriter, r *http.Request, d LogoutPage) {
	p.render(w, r, http.StatusOK, "logout.html", map[string]any{
		"Title": "Sign out", "Client": d.Client, "Username": d.Username, "Action": d.Action, "Fields": d.Fields,
	})
}

// RenderSignedOut renders the page shown after a logout that does not
// return to an app: signedOut says whether this browser is signed out.
func (p *Pages) RenderSignedOut(w http.ResponseWriter, r *http.Request, signedOut bool) {
	title := "Signed out"
	if !signedOut {
		title = "Still signed in"
	}
	p.render(w, r, http.StatusOK, "signedout.html", map[string]any{"Title": title, "SignedOut": signedOut})
}

// FrontChannelPage is the signed-out page with the apps' front-channel
// logout pages (Front-Channel Logout 1.0) in iframes; with Next, the
// browser moves on there after two seconds (a meta refresh, no script) or
// by the Continue link.
type FrontChannelPage struct {
	Frames []string
	Next   string
}

// RenderFrontChannel renders it, its CSP allowing frames from exactly the
// frames' origins.
func (p *Pages) RenderFrontChannel(w http.ResponseWriter, r *http.Request, d FrontChannelPage) {
	var origins []string
	for _, f := range d.Frames {
		if u, err := url.Parse(f); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			origins = append(origins, u.Scheme+"://"+u.Host)
		}
	}
	frames := "'none'"
	if len(origins) > 0 {
		frames = strings.Join(origins, " ")
	}
	w.Header()["Content-Security-Policy"] = []string{"default-src 'none'; style-src 'self'; img-src 'self'; frame-src " +
		frames + "; frame-ancestors 'none'; base-uri 'none'"}
	p.render(w, r, http.StatusOK, "frontchannel.html", map[string]any{"Title": "Signed out", "Frames": d.Frames, "Next": d.Next, "Refresh": d.Next})
}
