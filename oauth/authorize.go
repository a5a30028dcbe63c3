package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/web"
)

// The authorization endpoint: parse, decide (sign-in, consent, prompt),
// then fosite's response. The decisions are pure functions of what the
// request and the browser's session say (signInStep, consentStep), so they
// are table-tested without a server.

// decisionPath is where the consent form posts (behind CSRF).
const decisionPath = "/oauth2/auth/decision"

// step is what the authorization endpoint does next.
type step int

const (
	stepContinue        step = iota // this check passes: go on
	stepSignIn                      // show the sign-in form
	stepLoginRequired               // prompt=none without a usable sign-in: login_required
	stepConsent                     // show the consent form
	stepConsentRequired             // prompt=none without consent: consent_required
	stepDenied                      // the user denied: access_denied
	stepRemember                    // the user allowed: remember the consent, then issue
	stepIssue                       // issue the code
)

// freshLoginWindow: prompt=login is satisfied by a sign-in this recent.
const freshLoginWindow = time.Minute

// signInStep decides whether the browser's sign-in suffices: signedIn with
// a sign-in at authTime, prompt as requested, atDecision when this is the
// consent form's POST (the sign-in it follows was already checked).
func signInStep(signedIn bool, authTime, now time.Time, prompt []string, atDecision bool) step {
	fresh := signedIn && now.Sub(authTime) < freshLoginWindow
	if signedIn && !(slices.Contains(prompt, "login") && !atDecision && !fresh) {
		return stepContinue
	}
	if slices.Contains(prompt, "none") {
		return stepLoginRequired
	}
	return stepSignIn
}

// consentStep decides on consent: decision is the consent form's answer
// ("allow", "deny", or "" when there is none), remembered what the user
// allowed this client before.
func consentStep(decision string, prompt, remembered, requested []string) step {
	switch decision {
	case "deny":
		return stepDenied
	case "allow":
		return stepRemember
	}
	if slices.Contains(prompt, "consent") || !covers(remembered, requested) {
		if slices.Contains(prompt, "none") {
			return stepConsentRequired
		}
		return stepConsent
	}
	return stepIssue
}

// parseAuthorizeForm parses an authorization request's parameters. A
// repeated parameter (RFC 6749 §3.1) is refused on a page, never redirected:
// which redirect_uri would we trust?
func parseAuthorizeForm(w http.ResponseWriter, r *http.Request, maxBody int64) (msg string, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		return "The authorization request could not be parsed.", false
	}
	for k, v := range r.Form {
		if len(v) > 1 {
			return "The parameter " + strconvQuote(k) + " is repeated.", false
		}
	}
	return "", true
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if msg, ok := parseAuthorizeForm(w, r, s.cfg.MaxBodyBytes); !ok {
		s.pages.RenderError(w, r, http.StatusBadRequest, "Invalid request", msg)
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/oauth2/auth" {
		// An authorization request sent as a form (OIDC Core §3.1.2.1):
		// continue as the equivalent GET, which renders the sign-in and
		// consent pages with their CSRF tokens.
		http.Redirect(w, r, "/oauth2/auth?"+r.Form.Encode(), http.StatusSeeOther)
		return
	}
	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	client, ok := storedClient(ar.GetClient())
	if !ok {
		s.authorizeError(w, r, ar, fosite.ErrServerError.WithDebug("the authorization request's client is not an authd client"))
		return
	}
	prompt := fosite.RemoveEmpty(strings.Split(ar.GetRequestForm().Get("prompt"), " "))
	user, signedIn := s.pages.Current(r)
	var authTime time.Time
	if signedIn {
		authTime = user.AuthTime
	}
	atDecision := r.URL.Path == decisionPath
	switch signInStep(signedIn, authTime, time.Now(), prompt, atDecision) {
	case stepLoginRequired:
		s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrLoginRequired)
		return
	case stepSignIn:
		s.pages.RenderLogin(w, r, http.StatusOK, web.LoginPage{Next: authorizeURL("/oauth2/auth", r.Form), Client: displayName(client)})
		return
	}
	s.consent(w, r, ar, client, user, prompt, atDecision)
}

// consent runs the consent decision for a signed-in user and, when it
// allows, issues the authorization response.
func (s *Server) consent(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, client *fositestore.Client, user *web.LoginSession, prompt []string, atDecision bool) {
	ctx := r.Context()
	requested := ar.GetRequestedScopes()
	decision, remembered := "", []string(nil)
	if atDecision {
		decision = r.PostForm.Get("consent")
	}
	if decision == "" {
		var err error
		if remembered, err = s.consents.GetConsent(ctx, user.UserID, client.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.authorizeError(w, r, ar, err)
			return
		}
	}
	switch consentStep(decision, prompt, remembered, requested) {
	case stepDenied:
		s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	case stepConsentRequired:
		s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrConsentRequired)
		return
	case stepConsent:
		s.pages.RenderConsent(w, r, web.ConsentPage{
			Client: displayName(client), Username: user.Username, Scopes: describe(requested),
			Action: authorizeURL(decisionPath, r.Form),
		})
		return
	case stepRemember:
		if err := s.consents.SaveConsent(ctx, user.UserID, client.ID, requested); err != nil {
			s.authorizeError(w, r, ar, err)
			return
		}
	}
	s.issueCode(w, r, ar, user)
}

// issueCode grants what was requested and writes fosite's authorization
// response (the redirect with the code).
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, user *web.LoginSession) {
	ctx := r.Context()
	for _, sc := range ar.GetRequestedScopes() {
		ar.GrantScope(sc)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	sess := newSession(user.UserID, user.Username)
	sess.Claims.AuthTime = user.AuthTime
	sess.Claims.RequestedAt = ar.GetRequestedAt()
	sess.Claims.AuthenticationMethodsReferences = []string{"pwd"}
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	s.pages.RememberGrant(ctx, user, ar.GetID()) // the grant's id is the request's
	s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// authorizeURL rebuilds the authorization request's URL on path, from the
// protocol parameters only (never the CSRF token, the consent decision or
// credentials).
func authorizeURL(path string, form url.Values) string {
	q := url.Values{}
	for k, v := range form {
		switch k {
		case "csrf_token", "consent", "username", "password":
			continue
		}
		q[k] = v
	}
	return path + "?" + q.Encode()
}

func strconvQuote(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strconv.Quote(s)
}

// covers: every scope in want is in have.
func covers(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// describe lists scopes as the consent and device pages show them, openid
// first.
func describe(scopes []string) []web.Scope {
	out := make([]web.Scope, 0, len(scopes))
	for _, sc := range scopes {
		out = append(out, web.Scope{Name: sc, Description: knownScopes[sc]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name == "openid" && out[j].Name != "openid" })
	return out
}

// displayName is how pages name a client: its name, else its id.
func displayName(c *fositestore.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}
