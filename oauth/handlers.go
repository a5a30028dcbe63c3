package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ory/fosite"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/web"
)

// Routes mounts every protocol route; the whole surface is in this block.
// gorilla/mux tries routes in order, so the hottest come first.
func (s *Server) Routes(r *mux.Router) {
	r.HandleFunc("/oauth2/introspect", s.instrument("introspect", s.introspect)).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/token", s.instrument("token", s.token)).Methods(http.MethodPost)
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
	r.HandleFunc("/oauth2/revoke", s.instrument("revoke", s.revoke)).Methods(http.MethodPost)
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
		if len(k) > 64 || len(v[0]) > maxParamBytes {
			return fosite.ErrInvalidRequest.WithHint("A parameter is too long.")
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

// maxParamBytes bounds one protocol parameter: authd's tokens, codes and
// verifiers are far shorter; a long value is garbage or an attack.
const maxParamBytes = 4096

// validUTF8: no invalid byte sequence (ranging over one yields
// utf8.RuneError), and no U+FFFD either, which in a protocol parameter only
// ever comes from a botched conversion.
func validUTF8(s string) bool {
	return !strings.ContainsRune(s, utf8.RuneError)
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
	case isServerError(err) && (errors.Is(err, fosite.ErrNotFound) || errors.Is(err, fosite.ErrInvalidatedAuthorizeCode)):
		// fosite's code flow looks the code up a second time while
		// building the response and calls a miss server_error: a
		// concurrent redemption won the code in between.
		return fosite.ErrInvalidGrant.WithHint("The grant was already used, rotated or revoked.")
	}
	return err
}

func isServerError(err error) bool {
	var e *fosite.RFC6749Error
	return errors.As(err, &e) && e.ErrorField == fosite.ErrServerError.ErrorField
}

// unavailable reports whether err comes from a storage backend being down.
// fosite wraps storage errors in RFC 6749 errors whose Error() is only the
// error code, so the whole chain is inspected. io.EOF/io.ErrUnexpectedEOF
// are what a pooled connection to a server that died returns first.
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, redis.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	// Redis replies meaning "not now": a cluster failing over (CLUSTERDOWN,
	// TRYAGAIN), a node loading its data, a replica that was a master.
	if redis.IsClusterDownError(err) || redis.IsTryAgainError(err) || redis.IsLoadingError(err) ||
		redis.IsMasterDownError(err) || redis.IsReadOnlyError(err) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if m := e.Error(); strings.Contains(m, "connection refused") || strings.Contains(m, "failed to connect") ||
			strings.Contains(m, "conn closed") {
			return true
		}
	}
	return false
}

// supportedGrantTypes are the grant types the composed handlers implement.
var supportedGrantTypes = map[string]bool{"authorization_code": true, "refresh_token": true, "client_credentials": true, DeviceCodeGrantType: true}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	ctx := fositestore.WithTokenRequest(fositestore.WithRequestMeta(r.Context(), requestMeta(r)))
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
	if s.retryRefresh(ctx, w, r) {
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
	s.recordUsage(ctx, ar)
	s.keepRefreshResponse(ctx, ar, resp)
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

func (s *Server) writeAccessError(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error) {
	err = tokenError(err)
	if errors.Is(err, fosite.ErrInactiveToken) { // fosite's refresh reuse error wraps it
		s.metrics.reuse.Inc()
	}
	s.logError(ctx, "token request failed", err)
	if ar == nil {
		ar = fosite.NewAccessRequest(NewSession())
	}
	s.provider.WriteAccessError(ctx, w, ar, err)
}

func (s *Server) logError(ctx context.Context, msg string, err error) {
	var e *fosite.RFC6749Error
	if errors.As(err, &e) && e.CodeField < 500 {
		s.log.DebugContext(ctx, msg, "error", e.ErrorField, "hint", e.HintField)
		return
	}
	s.log.ErrorContext(ctx, msg, "err", err, "cause", rootCause(err))
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := fositestore.WithRevocation(r.Context())
	if err := s.prepareForm(w, r); err != nil {
		s.provider.WriteRevocationResponse(ctx, w, err)
		return
	}
	if r.PostForm.Get("token") == "" {
		s.provider.WriteRevocationResponse(ctx, w, fosite.ErrInvalidRequest.WithHint("The token parameter is missing."))
		return
	}
	err := s.provider.NewRevocationRequest(ctx, r)
	if err != nil && (unavailable(err) || errors.Is(err, fosite.ErrTemporarilyUnavailable)) {
		// fosite's WriteRevocationResponse answers 200 to anything but
		// invalid_request/invalid_client: a revocation that could not be
		// carried out must not look done (RFC 7009 §2.2.1: 503, retry).
		s.logError(ctx, "revocation failed", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"error": "temporarily_unavailable", "error_description": "The token could not be revoked now. Retry later.",
		})
		return
	}
	if err != nil {
		s.logError(ctx, "revocation failed", err)
	} else {
		s.metrics.revocations.WithLabelValues(storage.RevokedByClient).Inc()
	}
	s.provider.WriteRevocationResponse(ctx, w, err)
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	ar, ok := s.accessTokenCaller(w, r, "openid")
	if !ok {
		return
	}
	sess := ar.GetSession()
	out := map[string]any{"sub": sess.GetSubject()}
	if ar.GetGrantedScopes().Has("profile") {
		out["preferred_username"] = sess.GetUsername()
	}
	writeJSON(w, http.StatusOK, out)
}

// bearerToken reads an access token from the Authorization header (RFC 6750
// §2.1) or a form-encoded POST body (§2.2), never from the query string
// (§2.3): URLs end up in logs and browser history (RFC 9700 §4.3.2).
func bearerToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return ""
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
		if err := r.ParseForm(); err == nil {
			return r.PostForm.Get("access_token")
		}
	}
	return ""
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
	if err := r.ParseForm(); err != nil {
		s.pages.RenderError(w, r, http.StatusBadRequest, "Invalid request", "The authorization request could not be parsed.")
		return
	}
	for k, v := range r.Form {
		// RFC 6749 §3.1: parameters must not repeat. Shown as a page, never
		// redirected: which redirect_uri would we trust?
		if len(v) > 1 {
			s.pages.RenderError(w, r, http.StatusBadRequest, "Invalid request", "The parameter "+strconvQuote(k)+" is repeated.")
			return
		}
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
		s.log.ErrorContext(r.Context(), "authorize: backend unavailable", "err", err)
		s.pages.RenderError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "authd cannot reach its storage right now. Please try again in a moment.")
		return
	}
	var e *fosite.RFC6749Error
	if errors.As(err, &e) && (ar == nil || !ar.IsRedirectURIValid()) {
		s.pages.RenderError(w, r, e.CodeField, "Invalid request", e.DescriptionField+" "+e.HintField)
		return
	}
	if !errors.As(err, &e) {
		s.log.ErrorContext(r.Context(), "authorize failed", "err", err)
		err = fosite.ErrServerError
	}
	s.provider.WriteAuthorizeError(r.Context(), w, ar, err)
}

func strconvQuote(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strconv.Quote(s)
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

// rootCause is the innermost error's message: fosite's RFC 6749 errors print
// only their code ("server_error"), which says nothing about what failed.
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
