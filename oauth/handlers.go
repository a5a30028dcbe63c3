package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/web"
)

// Routes mounts every protocol route; the whole surface is in this block.
func (s *Server) Routes(r *mux.Router) {
	r.HandleFunc("/.well-known/openid-configuration", s.serveDiscovery).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/.well-known/oauth-authorization-server", s.serveDiscovery).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/.well-known/jwks.json", s.keys.ServeJWKS).Methods(http.MethodGet, http.MethodHead)
	// GET goes through the CSRF middleware only so that the sign-in and
	// consent pages it renders carry a CSRF token (and the browser gets the
	// CSRF cookie) for the POSTs to /login and /oauth2/auth/decision. GET is
	// a safe method: the middleware never rejects it. POST (an authorization
	// request sent as a form by a relying party) is not cross-site-protected.
	r.Handle("/oauth2/auth", s.pages.CSRF(http.HandlerFunc(s.authorize))).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/oauth2/auth", s.authorize).Methods(http.MethodPost)
	r.Handle("/oauth2/auth/decision", s.pages.CSRF(http.HandlerFunc(s.authorize))).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/token", s.instrument("token", s.token)).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/revoke", s.instrument("revoke", s.revoke)).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/introspect", s.instrument("introspect", s.introspect)).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/device/auth", s.instrument("device_authorization", s.deviceAuthorization)).Methods(http.MethodPost)
	r.Handle("/device", s.deviceVerification()).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/userinfo", s.userinfo).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/api/me/grants", s.withGrantsToken(s.meListGrants)).Methods(http.MethodGet)
	r.HandleFunc("/api/me/grants/revoke-others", s.withGrantsToken(s.meRevokeOthers)).Methods(http.MethodPost)
	r.HandleFunc("/api/me/grants/{id}", s.withGrantsToken(s.meRevokeGrant)).Methods(http.MethodDelete)
	r.HandleFunc("/admin/subjects/{sub}/grants", s.adminOnly(s.adminListGrants)).Methods(http.MethodGet)
	r.HandleFunc("/admin/subjects/{sub}/grants", s.adminOnly(s.adminRevokeSubject)).Methods(http.MethodDelete)
	r.HandleFunc("/admin/subjects/{sub}/grants/count", s.adminOnly(s.adminCountGrants)).Methods(http.MethodGet)
	r.HandleFunc("/admin/grants/{id}", s.adminOnly(s.adminRevokeGrant)).Methods(http.MethodDelete)
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
}

// requestMeta extracts the caller's address and user agent for grant records.
func requestMeta(r *http.Request) fositestore.RequestMeta {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return fositestore.RequestMeta{IP: ip, UserAgent: ua}
}

// prepareForm parses a protocol request's form once, before fosite does, to
// enforce what fosite does not: a bounded body, the form content type, no
// repeated parameters (RFC 6749 §3.1) and valid UTF-8. It also accepts
// client_secret_post for every confidential client by turning it into the
// equivalent HTTP Basic credentials (fosite binds a client to one method).
func (s *Server) prepareForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		if i := strings.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		if !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") {
			return fosite.ErrInvalidRequest.WithHint("The request body must be application/x-www-form-urlencoded.")
		}
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fosite.ErrInvalidRequest.WithHint("The request body is too large.")
		}
		return fosite.ErrInvalidRequest.WithHint("The request body could not be parsed.")
	}
	for k, v := range r.Form {
		if len(v) > 1 {
			return fosite.ErrInvalidRequest.WithHintf("The parameter %q must not be repeated.", k)
		}
		if !validUTF8(k) || !validUTF8(v[0]) {
			return fosite.ErrInvalidRequest.WithHint("Parameters must be valid UTF-8.")
		}
	}
	if id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"); secret != "" && id != "" {
		if _, _, basic := r.BasicAuth(); basic {
			return fosite.ErrInvalidRequest.WithHint("Use exactly one client authentication method.")
		}
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		r.PostForm.Del("client_secret")
		r.Form.Del("client_secret")
	}
	return nil
}

func validUTF8(s string) bool {
	for _, c := range s {
		if c == '\uFFFD' {
			return false
		}
	}
	return true
}

// tokenError maps storage-level failures to the OAuth errors clients must
// see: a lost race or a grant revoked mid-flight is invalid_grant; Redis or
// Postgres being unavailable is temporarily_unavailable (503), never a bare
// 500.
func tokenError(err error) error {
	switch {
	case errors.Is(err, fositestore.ErrConcurrent), errors.Is(err, fosite.ErrSerializationFailure),
		errors.Is(err, fositestore.ErrRevoked):
		return fosite.ErrInvalidGrant.WithHint("The grant was already used, rotated or revoked.")
	case unavailable(err):
		return fosite.ErrTemporarilyUnavailable.WithHint("A storage backend is unavailable. Retry later.")
	}
	return err
}

// unavailable reports whether err comes from a storage backend being down.
func unavailable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, redis.ErrClosed) || strings.Contains(err.Error(), "connection refused") ||
		strings.Contains(err.Error(), "failed to connect")
}

// supportedGrantTypes are the grant types the composed handlers implement.
var supportedGrantTypes = map[string]bool{"authorization_code": true, "refresh_token": true, "client_credentials": true, DeviceCodeGrantType: true}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	ctx := fositestore.WithRequestMeta(r.Context(), requestMeta(r))
	session := NewSession()
	if err := s.prepareForm(w, r); err != nil {
		s.provider.WriteAccessError(ctx, w, fosite.NewAccessRequest(session), err)
		return
	}
	switch gt := r.PostForm.Get("grant_type"); {
	case gt == "":
		s.provider.WriteAccessError(ctx, w, fosite.NewAccessRequest(session), fosite.ErrInvalidRequest.WithHint("The grant_type parameter is missing."))
		return
	case !supportedGrantTypes[gt]:
		s.provider.WriteAccessError(ctx, w, fosite.NewAccessRequest(session), fosite.ErrUnsupportedGrantType)
		return
	}
	ar, err := s.provider.NewAccessRequest(ctx, r, session)
	if err != nil {
		s.writeAccessError(ctx, w, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		for _, sc := range ar.GetRequestedScopes() {
			ar.GrantScope(sc)
		}
		for _, a := range ar.GetRequestedAudience() {
			ar.GrantAudience(a)
		}
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.writeAccessError(ctx, w, ar, err)
		return
	}
	s.metrics.tokensIssued.WithLabelValues(strings.Join(ar.GetGrantTypes(), " ")).Inc()
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

func (s *Server) writeAccessError(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error) {
	err = tokenError(err)
	if errors.Is(err, fosite.ErrInactiveToken) || strings.Contains(errorDebug(err), "already used") {
		s.metrics.reuse.Inc()
	}
	s.logError("token request failed", err)
	if ar == nil {
		ar = fosite.NewAccessRequest(NewSession())
	}
	s.provider.WriteAccessError(ctx, w, ar, err)
}

func errorDebug(err error) string {
	var e *fosite.RFC6749Error
	if errors.As(err, &e) {
		return e.HintField
	}
	return ""
}

func (s *Server) logError(msg string, err error) {
	var e *fosite.RFC6749Error
	if errors.As(err, &e) && e.CodeField < 500 {
		s.log.Debug(msg, "error", e.ErrorField, "hint", e.HintField)
		return
	}
	s.log.Error(msg, "err", err)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := s.prepareForm(w, r); err != nil {
		s.provider.WriteRevocationResponse(ctx, w, err)
		return
	}
	err := s.provider.NewRevocationRequest(ctx, r)
	if err != nil && unavailable(err) {
		err = fosite.ErrTemporarilyUnavailable
	}
	if err != nil {
		s.logError("revocation failed", err)
	} else {
		s.metrics.revocations.WithLabelValues(storage.RevokedByClient).Inc()
	}
	s.provider.WriteRevocationResponse(ctx, w, err)
}

// introspect answers RFC 7662 requests. The caller must authenticate as a
// client registered with --introspect; anyone else is refused before the
// token's state is revealed.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := s.prepareForm(w, r); err != nil {
		s.provider.WriteIntrospectionError(ctx, w, err)
		return
	}
	id, _, ok := r.BasicAuth()
	if !ok || strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		w.Header().Set("WWW-Authenticate", `Basic realm="authd"`)
		s.provider.WriteIntrospectionError(ctx, w, fosite.ErrRequestUnauthorized.WithHint("Authenticate as a client allowed to introspect (HTTP Basic or client_secret_post)."))
		return
	}
	if uid, err := url.QueryUnescape(id); err == nil {
		id = uid
	}
	resp, err := s.provider.NewIntrospectionRequest(ctx, r, NewSession())
	if err != nil && (errors.Is(err, fosite.ErrRequestUnauthorized) || errors.Is(err, fosite.ErrInvalidRequest)) {
		s.provider.WriteIntrospectionError(ctx, w, err)
		return
	}
	// The caller's credentials were valid (fosite checked them); now its
	// permission.
	c, cerr := s.clients.Get(ctx, id)
	if cerr != nil || !c.Introspect {
		writeJSON(w, http.StatusForbidden, map[string]string{
			"error": "unauthorized_client", "error_description": "This client is not allowed to introspect tokens.",
		})
		return
	}
	if err != nil && unavailable(err) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"error": "temporarily_unavailable", "error_description": "Token state is unavailable. Retry later.",
		})
		return
	}
	active := "false"
	if resp.IsActive() {
		active = "true"
	}
	s.metrics.introspections.WithLabelValues(active).Inc()
	s.provider.WriteIntrospectionResponse(ctx, w, resp)
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := fosite.AccessTokenFromRequest(r)
	deny := func(code, desc string, status int) {
		w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+desc+`"`)
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if token == "" {
		deny("invalid_request", "A bearer access token is required.", http.StatusUnauthorized)
		return
	}
	_, ar, err := s.provider.IntrospectToken(ctx, token, fosite.AccessToken, NewSession())
	if err != nil {
		if unavailable(err) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
			return
		}
		deny("invalid_token", "The access token is invalid, expired or revoked.", http.StatusUnauthorized)
		return
	}
	if !ar.GetGrantedScopes().Has("openid") {
		deny("insufficient_scope", "The access token lacks the openid scope.", http.StatusForbidden)
		return
	}
	sess := ar.GetSession()
	out := map[string]any{"sub": sess.GetSubject()}
	if ar.GetGrantedScopes().Has("profile") {
		out["preferred_username"] = sess.GetUsername()
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out, status := map[string]string{}, http.StatusOK
	for _, h := range s.health {
		if err := h.Check(ctx); err != nil {
			out[h.Name], status = "unavailable", http.StatusServiceUnavailable
		} else {
			out[h.Name] = "ok"
		}
	}
	writeJSON(w, status, out)
}

// ---------------------------------------------------------------------------
// Authorization endpoint: sign-in, consent, then fosite's response.

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	client, err := s.clients.Get(ctx, ar.GetClient().GetID())
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	name := client.Name
	if name == "" {
		name = client.ID
	}
	prompt := fosite.RemoveEmpty(strings.Split(ar.GetRequestForm().Get("prompt"), " "))
	user, signedIn := s.pages.Current(r)
	if !signedIn || contains(prompt, "login") && r.URL.Path != "/oauth2/auth/decision" && !freshLogin(user) {
		if contains(prompt, "none") {
			s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrLoginRequired)
			return
		}
		s.pages.RenderLogin(w, r, http.StatusOK, web.LoginPage{Next: s.authorizeURL("/oauth2/auth", r), Client: name})
		return
	}

	requested := ar.GetRequestedScopes()
	decision := ""
	if r.URL.Path == "/oauth2/auth/decision" {
		decision = r.PostForm.Get("consent")
	}
	switch decision {
	case "deny":
		s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	case "allow":
		if err := s.consents.SaveConsent(ctx, user.UserID, client.ID, requested); err != nil {
			s.authorizeError(w, r, ar, err)
			return
		}
	default:
		remembered, err := s.consents.GetConsent(ctx, user.UserID, client.ID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.authorizeError(w, r, ar, err)
			return
		}
		if contains(prompt, "consent") || !covers(remembered, requested) {
			if contains(prompt, "none") {
				s.provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrConsentRequired)
				return
			}
			s.pages.RenderConsent(w, r, web.ConsentPage{
				Client: name, Username: user.Username, Scopes: describe(requested),
				Action: s.authorizeURL("/oauth2/auth/decision", r),
			})
			return
		}
	}

	for _, sc := range requested {
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

// freshLogin: prompt=login is satisfied by a sign-in in the last minute.
func freshLogin(u *web.LoginSession) bool {
	return u != nil && time.Since(u.AuthTime) < time.Minute
}

// authorizeURL rebuilds the authorization request's URL on path, from the
// protocol parameters only (never the CSRF token or the consent decision).
func (s *Server) authorizeURL(path string, r *http.Request) string {
	q := url.Values{}
	for k, v := range r.Form {
		switch k {
		case "csrf_token", "consent", "username", "password":
			continue
		}
		q[k] = v
	}
	return path + "?" + q.Encode()
}

// authorizeError shows a page when the client or redirect URI can't be
// trusted (RFC 6749 §4.1.2.1: never redirect then) and otherwise redirects
// the error to the client.
func (s *Server) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	if unavailable(err) {
		s.log.Error("authorize: backend unavailable", "err", err)
		s.pages.RenderError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "authd cannot reach its storage right now. Please try again in a moment.")
		return
	}
	var e *fosite.RFC6749Error
	if errors.As(err, &e) && (ar == nil || !ar.IsRedirectURIValid()) {
		s.pages.RenderError(w, r, e.CodeField, "Invalid request", e.DescriptionField+" "+e.HintField)
		return
	}
	if !errors.As(err, &e) {
		s.log.Error("authorize failed", "err", err)
		err = fosite.ErrServerError
	}
	s.provider.WriteAuthorizeError(r.Context(), w, ar, err)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func covers(have, want []string) bool {
	for _, w := range want {
		if !contains(have, w) {
			return false
		}
	}
	return true
}

func describe(scopes []string) []web.Scope {
	out := make([]web.Scope, 0, len(scopes))
	for _, sc := range scopes {
		out = append(out, web.Scope{Name: sc, Description: knownScopes[sc]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name == "openid" && out[j].Name != "openid" })
	return out
}
