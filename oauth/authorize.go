package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/authd/authd/clientdoc"
	"github.com/authd/authd/sessions"
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

// signInCheck is what the sign-in decision looks at.
type signInCheck struct {
	signedIn bool
	authTime time.Time // the browser's sign-in (whole seconds)
	// requestedAt is when authd first received this authorization request
	// (whole seconds); carried: it came back from a page authd rendered for
	// this very request (carriedURL), so a sign-in at or after it was made
	// for this request.
	requestedAt time.Time
	carried     bool
	prompt      []string
	maxAge      int64 // seconds; -1: not asked
	otherUser   bool  // the id_token_hint names another user than the signed-in one
}

// signInStep decides whether the browser's sign-in suffices (OIDC Core
// 3.1.2.1): a sign-in made for this request always does; otherwise
// prompt=login and select_account, an expired max_age (max_age=0: always)
// and a hint for someone else ask for a new one, and prompt=none never
// shows the form.
func signInStep(c signInCheck) step {
	if c.signedIn && c.carried && !c.authTime.Before(c.requestedAt) {
		return stepContinue
	}
	if c.signedIn && !c.reauthenticate() {
		return stepContinue
	}
	if slices.Contains(c.prompt, "none") {
		return stepLoginRequired
	}
	return stepSignIn
}

// reauthenticate: the request asks for a sign-in newer than the browser's.
func (c signInCheck) reauthenticate() bool {
	if slices.Contains(c.prompt, "login") || slices.Contains(c.prompt, "select_account") || c.otherUser {
		return true
	}
	return c.maxAge == 0 || (c.maxAge > 0 && c.requestedAt.After(c.authTime.Add(time.Duration(c.maxAge)*time.Second)))
}

// promptValues are the prompt values authd implements.
var promptValues = []string{"none", "login", "consent", "select_account"}

// promptProblem says what is wrong with a prompt parameter ("": nothing).
func promptProblem(prompt []string) string {
	for _, p := range prompt {
		if !slices.Contains(promptValues, p) {
			return "The prompt value " + strconvQuote(p) + " is not supported."
		}
	}
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return "prompt=none cannot be combined with other values."
	}
	return ""
}

// maxAge is the request's max_age in seconds, -1 when absent or not a
// non-negative integer.
func maxAge(form url.Values) int64 {
	n, err := strconv.ParseInt(form.Get("max_age"), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
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
		if len(v) > 1 && k != resourceParam { // RFC 8707 §2: resource repeats
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
	dropUnofferedScopes(r.Form)
	badTarget := resourcesAsAudience(r.Form) // resource.go: fosite checks them as its audience
	// A Client ID Metadata Document past its lifetime is fetched again
	// before an authorization uses it.
	ar, err := s.provider.NewAuthorizeRequest(clientdoc.RequireFresh(ctx), r)
	r.Form.Del(fositeAudienceParam) // not carried across the pages: resource is
	if err == nil {
		err = badTarget
	}
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	client, ok := storedClient(ar.GetClient())
	if !ok {
		s.authorizeError(w, r, ar, fosite.ErrServerError.WithDebug("the authorization request's client is not an authd client"))
		return
	}
	if client.DocumentHost != "" && ar.GetRequestForm().Get("code_challenge") == "" {
		// fosite requires PKCE of public clients; a Client ID Metadata
		// Document client must use it whatever its authentication.
		s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrInvalidRequest.WithHint("A client identified by a Client ID Metadata Document must use PKCE (code_challenge with S256)."))
		return
	}
	prompt := fosite.RemoveEmpty(strings.Split(ar.GetRequestForm().Get("prompt"), " "))
	if msg := promptProblem(prompt); msg != "" {
		s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrInvalidRequest.WithHint(msg))
		return
	}
	cr, err := parseClaimsRequest(ar.GetRequestForm().Get("claims"))
	if err == nil && cr.essentialACR() {
		err = errUnmetAuthentication
	}
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	user, requestedAt, ok := s.signIn(w, r, ar, client, prompt, cr.subject())
	if !ok {
		return
	}
	if sub := cr.subject(); sub != "" && sub != user.Subject {
		// OIDC Core 5.5.1: a positive answer only for the user sub names.
		s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrAccessDenied.WithHint("The signed-in user is not the subject the claims parameter asks for."))
		return
	}
	g := grantClaims(cr, ar.GetRequestedScopes(), client.Scopes)
	s.consent(w, r, ar, client, user, prompt, requestedAt, g)
}

// unofferedScopes are OIDC Core 5.4 standard scopes for data authd does
// not keep (postal address, phone number). They are dropped from an
// authorization request (RFC 6749 §3.3 lets the server ignore requested
// scope), so it succeeds without their claims rather than failing with
// invalid_scope; the response's scope says what was granted.
var unofferedScopes = []string{"address", "phone"}

func dropUnofferedScopes(form url.Values) {
	if !form.Has("scope") {
		return
	}
	scopes := strings.Fields(form.Get("scope"))
	kept := slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return slices.Contains(unofferedScopes, sc) })
	if len(kept) != len(scopes) {
		form.Set("scope", strings.Join(kept, " "))
	}
}

// signIn runs the sign-in decision; ok: the browser's user may go on, for
// the request first received at requestedAt. Otherwise it has answered
// (the sign-in form or an error). wantSub is the subject the claims
// parameter asks for ("": any), a hint like id_token_hint's.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, client *fositestore.Client, prompt []string, wantSub string) (user *sessions.Session, requestedAt time.Time, ok bool) {
	ctx := r.Context()
	hintSub, err := s.hintSubject(ctx, r.Form.Get("id_token_hint"))
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrInvalidRequest.WithHint("The id_token_hint is not an ID token authd issued."))
		return nil, time.Time{}, false
	}
	c := signInCheck{prompt: prompt, maxAge: maxAge(r.Form)}
	c.requestedAt, c.carried = s.requestTime(r.Form, time.Now())
	user, c.signedIn = s.pages.Current(r)
	if c.signedIn {
		c.authTime = user.AuthTime
		c.otherUser = (hintSub != "" && hintSub != user.Subject) || (wantSub != "" && wantSub != user.Subject)
	}
	if c.carried && c.signedIn && c.reauthenticate() {
		// Only the carried time lets this browser's sign-in count for a
		// request that asks for a new one: it counts once, so replaying the
		// URL later asks for a sign-in again.
		if c.carried, err = s.carriedOnce(ctx, r.Form.Get(carryParam)); err != nil {
			s.authorizeError(w, r, ar, err)
			return nil, time.Time{}, false
		}
		if !c.carried {
			c.requestedAt = time.Now().UTC().Truncate(time.Second)
		}
	}
	switch signInStep(c) {
	case stepLoginRequired:
		s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrLoginRequired)
		return nil, time.Time{}, false
	case stepSignIn:
		s.pages.RenderLogin(w, r, http.StatusOK, web.LoginPage{
			Next: s.carriedURL("/oauth2/auth", r.Form, c.requestedAt), Client: displayName(client), Username: loginHint(r.Form),
		})
		return nil, time.Time{}, false
	}
	return user, c.requestedAt, true
}

// loginHint is the username the sign-in form starts with (OIDC Core
// 3.1.2.1 login_hint).
func loginHint(form url.Values) string {
	h := strings.TrimSpace(form.Get("login_hint"))
	if len(h) > 200 {
		return ""
	}
	return h
}

// hintSubject is the subject of an id_token_hint authd signed (expired
// ones too, OIDC Core 3.1.2.1); "" without a hint.
func (s *Server) hintSubject(ctx context.Context, hint string) (string, error) {
	if hint == "" {
		return "", nil
	}
	claims, err := s.IDTokenHint(ctx, hint)
	if err != nil {
		return "", err
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return "", errors.New("oauth: id_token_hint without a subject")
	}
	return sub, nil
}

// IDTokenHint verifies raw as an ID token authd signed (its kid one of
// authd's published keys, its iss authd; expired ones too, as OIDC Core
// 3.1.2.1 and RP-Initiated Logout 1.0 §2 accept them) and returns its
// claims.
func (s *Server) IDTokenHint(ctx context.Context, raw string) (map[string]any, error) {
	t, err := s.idTokens.Decode(ctx, raw)
	var ve *jwt.ValidationError
	if err != nil && !(errors.As(err, &ve) && ve.Has(jwt.ValidationErrorExpired)) {
		return nil, err
	}
	return t.Claims, nil
}

// carryParam carries an authorization request's first arrival time across
// the sign-in and consent pages, sealed to the request's other parameters
// (so it belongs to exactly that request) and good for carryTTL.
const (
	carryParam = "authd_request"
	carryTTL   = 10 * time.Minute
)

// carriedURL is the request's URL on path carrying requestedAt.
func (s *Server) carriedURL(path string, form url.Values, requestedAt time.Time) string {
	u := authorizeURL(path, form)
	_, ad, _ := strings.Cut(u, "?")
	sealed, err := s.carry.Seal([]byte(strconv.FormatInt(requestedAt.Unix(), 10)), []byte(ad))
	if err != nil {
		return u // not carried: the request's time is then that of its return
	}
	return u + "&" + carryParam + "=" + base64.RawURLEncoding.EncodeToString(sealed)
}

// carriedOnce marks the carried value used: false when it already was
// (always true without a OnceMarker).
func (s *Server) carriedOnce(ctx context.Context, carried string) (bool, error) {
	if s.once == nil {
		return true, nil
	}
	return s.once.MarkOnce(ctx, carryParam+":"+carried, carryTTL)
}

// requestTime is when the request in form first arrived: the carried time
// when form carries a valid one, else now (whole seconds, as auth_time).
func (s *Server) requestTime(form url.Values, now time.Time) (time.Time, bool) {
	now = now.UTC().Truncate(time.Second)
	raw, err := base64.RawURLEncoding.DecodeString(form.Get(carryParam))
	if err != nil || len(raw) == 0 {
		return now, false
	}
	_, ad, _ := strings.Cut(authorizeURL("", form), "?")
	pt, err := s.carry.Open(raw, []byte(ad))
	if err != nil {
		return now, false
	}
	n, err := strconv.ParseInt(string(pt), 10, 64)
	t := time.Unix(n, 0).UTC()
	if err != nil || t.After(now) || now.Sub(t) > carryTTL {
		return now, false
	}
	return t, true
}

// consent runs the consent decision for a signed-in user and, when it
// allows, issues the authorization response. The user consents to the
// requested scopes and to those the claims of g need.
func (s *Server) consent(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, client *fositestore.Client, user *sessions.Session, prompt []string, requestedAt time.Time, g claimGrant) {
	ctx := r.Context()
	atDecision := r.URL.Path == decisionPath
	requested := append(slices.Clone(ar.GetRequestedScopes()), g.scopes...)
	decision, remembered := "", []string(nil)
	if atDecision {
		decision = r.PostForm.Get("consent")
	}
	// A Client ID Metadata Document client's consent is never remembered:
	// its document (name, redirect URIs) may change at any time.
	document := client.DocumentHost != ""
	if decision == "" && !document {
		var err error
		if remembered, err = s.consents.GetConsent(ctx, user.Subject, client.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
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
			Client: displayName(client), ClientHost: client.DocumentHost, Username: user.Username, Scopes: describe(requested),
			Action: s.carriedURL(decisionPath, r.Form, requestedAt),
		})
		return
	case stepRemember:
		if document {
			break
		}
		if err := s.consents.SaveConsent(ctx, user.Subject, client.ID, requested); err != nil {
			s.authorizeError(w, r, ar, err)
			return
		}
	}
	s.issueCode(w, r, ar, user, requestedAt, g)
}

// issueCode grants what was requested and writes fosite's authorization
// response (the redirect with the code).
//
// The session's RequestedAt is when the request first arrived (before any
// sign-in it needed): fosite's own prompt and max_age checks compare it with
// AuthTime. Its Device is the browser r came from. The claims g asks for
// are put in the session: the ID token's values read from the user record
// now, once (the code exchange and every refresh issue them from the
// stored session, never reading Postgres).
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, user *sessions.Session, requestedAt time.Time, g claimGrant) {
	ctx := r.Context()
	for _, sc := range ar.GetRequestedScopes() {
		ar.GrantScope(sc)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	sess := newSession(user.Subject, user.Username)
	sess.SID = user.ID // the ID token's sid, kept through every refresh
	sess.Claims.AuthTime = user.AuthTime
	sess.Claims.RequestedAt = requestedAt
	sess.Claims.AuthenticationMethodsReferences = []string{"pwd"}
	// The grant's device is this browser: the code carries it to the
	// grant's birth, whatever client then exchanges the code.
	sess.Device = requestMeta(r)
	sess.UserinfoClaims = g.userinfo
	if len(g.idToken) > 0 {
		u, err := s.users.GetUser(ctx, user.Subject)
		if err != nil {
			s.authorizeError(w, r, ar, err)
			return
		}
		sess.Claims.Extra = map[string]any{}
		addUserClaims(sess.Claims.Extra, u, g.idToken)
	}
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	// The grant's id is the request's; ending the session ends the grant
	// unless it holds offline_access.
	s.pages.RememberGrant(ctx, user, ar.GetClient().GetID(), ar.GetID(), holdsOffline(ar.GetGrantedScopes()))
	s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// authorizeURL rebuilds the authorization request's URL on path, from the
// protocol parameters only (never the CSRF token, the consent decision or
// credentials).
func authorizeURL(path string, form url.Values) string {
	q := url.Values{}
	for k, v := range form {
		switch k {
		case "csrf_token", "consent", "username", "password", carryParam:
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

// displayName is how pages name a client (fositestore.Client.DisplayName:
// with its host for a Client ID Metadata Document client).
func displayName(c *fositestore.Client) string { return c.DisplayName() }

// holdsOffline: the granted scopes include one that gives a refresh token
// (RefreshScopes), so the grant outlives the browser session.
func holdsOffline(granted fosite.Arguments) bool {
	return slices.ContainsFunc(RefreshScopes, func(sc string) bool { return granted.Has(sc) })
}
