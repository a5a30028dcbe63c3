package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/token"
	"github.com/authd/authd/web"
)

// The device authorization grant (RFC 8628), which fosite v0.49 lacks:
//
//   - POST /oauth2/device/auth (deviceAuthorization) mints a grant id, a
//     device code for it and a user code, and stores them pending;
//   - the verification page (web, through deviceVerifier) approves or denies
//     the pending request as the signed-in user;
//   - the token endpoint, through deviceGrant (a fosite TokenEndpointHandler),
//     answers polls and, after approval, redeems the device code exactly once
//     for tokens stored through the fosite storage, which records the grant
//     with flow device_code.

const (
	defaultDeviceCodeTTL = 10 * time.Minute
	devicePollInterval   = 5 * time.Second
)

// deviceGrant is the device flow's token endpoint handler and holds what the
// device authorization endpoint needs.
type deviceGrant struct {
	s        *Server
	fosite   *fosite.Fosite
	config   *fosite.Config
	strategy *tokenStrategy // opaque tokens, or JWT access tokens for jwt clients
	idTokens openid.OpenIDConnectTokenStrategy
	ttl      time.Duration
}

var _ fosite.TokenEndpointHandler = (*deviceGrant)(nil)

// enableDeviceFlow builds the device grant and adds it to fosite's token
// endpoint handlers (called by New after compose).
func (s *Server) enableDeviceFlow(fc *fosite.Config, provider fosite.OAuth2Provider, strategy *tokenStrategy, signer *kidSigner) {
	ttl := s.cfg.DeviceCodeTTL
	if ttl <= 0 {
		ttl = defaultDeviceCodeTTL
	}
	f, _ := provider.(*fosite.Fosite) // compose.Compose always returns *fosite.Fosite
	s.device = &deviceGrant{
		s: s, fosite: f, config: fc, strategy: strategy,
		idTokens: &openid.DefaultStrategy{Signer: signer, Config: fc}, ttl: ttl,
	}
	fc.TokenEndpointHandlers.Append(s.device)
}

func deviceError(name, desc string) *fosite.RFC6749Error {
	return &fosite.RFC6749Error{ErrorField: name, DescriptionField: desc, CodeField: http.StatusBadRequest}
}

// RFC 8628 §3.5 errors (all 400, like every RFC 6749 §5.2 error).
func errAuthorizationPending() *fosite.RFC6749Error {
	return deviceError("authorization_pending", "The user has not yet approved or denied the request. Keep polling at the interval.")
}
func errSlowDown() *fosite.RFC6749Error {
	return deviceError("slow_down", "Polling too fast: the interval was increased by 5 seconds.")
}
func errDeviceDenied() *fosite.RFC6749Error {
	return deviceError("access_denied", "The user denied the request.")
}
func errExpiredToken() *fosite.RFC6749Error {
	return deviceError("expired_token", "The device code has expired. Start a new device authorization request.")
}

// ---------------------------------------------------------------------------
// Device authorization endpoint (RFC 8628 §3.1, §3.2)

func (s *Server) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	ctx := storage.WithRequestMeta(r.Context(), requestMeta(r))
	d := s.device
	client, err := d.fosite.AuthenticateClient(ctx, r, r.PostForm)
	if err != nil {
		s.writeAccessError(ctx, w, nil, err)
		return
	}
	if !client.GetGrantTypes().Has(storage.DeviceCodeGrantType) {
		s.writeAccessError(ctx, w, nil, fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type %q.", storage.DeviceCodeGrantType))
		return
	}
	scopes := fosite.RemoveEmpty(strings.Split(r.PostForm.Get("scope"), " "))
	match := d.config.GetScopeStrategy(ctx)
	for _, sc := range scopes {
		if !match(client.GetScopes(), sc) {
			s.writeAccessError(ctx, w, nil, fosite.ErrInvalidScope.WithHintf("The client is not allowed to request scope %q.", sc))
			return
		}
	}
	resources, err := deviceResources(client, r.PostForm)
	if err != nil {
		s.writeAccessError(ctx, w, nil, err)
		return
	}
	grant := uuid.NewString()
	deviceCode, sig, err := d.strategy.GenerateDeviceCode(grant)
	if err != nil {
		s.writeAccessError(ctx, w, nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	var userCode string
	for i := 0; ; i++ {
		if userCode, err = newUserCode(); err != nil {
			break
		}
		err = s.devices.CreateDeviceRequest(ctx, DeviceRequest{
			Signature: sig, ClientID: client.GetID(), Scopes: scopes, Resources: resources, UserCode: userCode,
			Interval: devicePollInterval, TTL: d.ttl,
		})
		if !errors.Is(err, redisstore.ErrUserCodeTaken) || i == 4 {
			break
		}
	}
	if err != nil {
		s.writeAccessError(ctx, w, nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	verify := s.cfg.Issuer + "/device"
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"device_code":               deviceCode,
		"user_code":                 formatUserCode(userCode),
		"verification_uri":          verify,
		"verification_uri_complete": verify + "?user_code=" + formatUserCode(userCode),
		"expires_in":                int64(d.ttl / time.Second),
		"interval":                  int64(devicePollInterval / time.Second),
	})
}

// ---------------------------------------------------------------------------
// Token endpoint (RFC 8628 §3.4, §3.5)

func (d *deviceGrant) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(storage.DeviceCodeGrantType)
}

// CanSkipClientAuth: public clients registered for the device grant poll
// with their client_id only. fosite's client authentication already accepts
// such a client (method "none") and sets it on the request; a request
// whose client could not be identified at all is never let through.
func (d *deviceGrant) CanSkipClientAuth(_ context.Context, ar fosite.AccessRequester) bool {
	c := ar.GetClient()
	return c != nil && c.IsPublic() && c.GetGrantTypes().Has(storage.DeviceCodeGrantType)
}

// HandleTokenEndpointRequest checks the device code and its state. Only an
// approved code gets through; it then carries the approving user's session
// and the grant id, ready for PopulateTokenEndpointResponse.
func (d *deviceGrant) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !d.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	client := ar.GetClient()
	if client == nil || !client.GetGrantTypes().Has(storage.DeviceCodeGrantType) {
		return fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type %q.", storage.DeviceCodeGrantType)
	}
	code := ar.GetRequestForm().Get("device_code")
	if code == "" {
		return fosite.ErrInvalidRequest.WithHint("The device_code parameter is missing.")
	}
	sig := d.strategy.DeviceCodeSignature(code)
	if sig == "" {
		return fosite.ErrInvalidGrant.WithHint("The device code is malformed or was not issued by this server.")
	}
	poll, err := d.s.devices.PollDevice(ctx, sig, client.GetID())
	switch {
	case errors.Is(err, fosite.ErrNotFound):
		// The MAC is ours, so the code was issued here: it expired.
		return errExpiredToken()
	case errors.Is(err, redisstore.ErrWrongClient):
		return fosite.ErrInvalidGrant.WithHint("The device code was issued to another client.")
	case err != nil:
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	switch poll.State {
	case redisstore.DevicePending:
		return errAuthorizationPending()
	case redisstore.DeviceSlowDown:
		return errSlowDown()
	case redisstore.DeviceDenied:
		return errDeviceDenied()
	case redisstore.DeviceRedeemed:
		return fosite.ErrInvalidGrant.WithHint("The device code was already redeemed.")
	case redisstore.DeviceApproved:
	default:
		return fosite.ErrServerError.WithDebugf("unknown device state %q", poll.State)
	}
	sg, _ := token.ParseSignature(sig)
	ar.SetID(sg.Grant)
	ar.SetSession(poll.Session)
	ar.SetRequestedScopes(poll.Scopes)
	ar.SetRequestedAudience(poll.Resources) // the grant's resources (resource.go)
	for _, sc := range poll.Scopes {
		ar.GrantScope(sc)
	}
	now := time.Now().UTC()
	ar.GetSession().SetExpiresAt(fosite.AccessToken, now.Add(d.config.GetAccessTokenLifespan(ctx)).Round(time.Second))
	if rt := d.config.GetRefreshTokenLifespan(ctx); rt > -1 {
		ar.GetSession().SetExpiresAt(fosite.RefreshToken, now.Add(rt).Round(time.Second))
	}
	return nil
}

// issuesRefresh mirrors fosite's canIssueRefreshToken.
func (d *deviceGrant) issuesRefresh(ctx context.Context, ar fosite.Requester) bool {
	if sc := d.config.GetRefreshTokenScopes(ctx); len(sc) > 0 && !ar.GetGrantedScopes().HasOneOf(sc...) {
		return false
	}
	return ar.GetClient().GetGrantTypes().Has("refresh_token")
}

// PopulateTokenEndpointResponse redeems the device code (exactly once: a
// compare-and-set approved → redeemed) and issues the grant's first tokens.
// Storing them through the fosite storage with grant_type device_code in the
// form is what records the grant (flow device_code) and births its family.
func (d *deviceGrant) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !d.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	sig := d.strategy.DeviceCodeSignature(ar.GetRequestForm().Get("device_code"))
	switch err := d.s.devices.RedeemDevice(ctx, sig); {
	case errors.Is(err, fosite.ErrNotFound):
		return errExpiredToken()
	case errors.Is(err, storage.ErrStale):
		return fosite.ErrInvalidGrant.WithHint("The device code was already redeemed.")
	case err != nil:
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}

	access, accessSig, err := d.strategy.GenerateAccessToken(ctx, ar)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	var refresh, refreshSig string
	if d.issuesRefresh(ctx, ar) {
		if refresh, refreshSig, err = d.strategy.GenerateRefreshToken(ctx, ar); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
	}
	resp.SetAccessToken(access)
	resp.SetTokenType("bearer")
	resp.SetExpiresIn(time.Until(ar.GetSession().GetExpiresAt(fosite.AccessToken)).Round(time.Second))
	resp.SetScopes(ar.GetGrantedScopes())
	if refresh != "" {
		resp.SetExtra("refresh_token", refresh)
	}
	// The ID token is signed before anything is stored, so a signing
	// failure leaves no orphaned grant behind.
	if ar.GetGrantedScopes().Has("openid") {
		sess, ok := ar.GetSession().(openid.Session)
		if !ok {
			return fosite.ErrServerError.WithDebug("the session is not an OpenID Connect session")
		}
		sess.IDTokenClaims().AccessTokenHash = (&openid.IDTokenHandleHelper{IDTokenStrategy: d.idTokens}).GetAccessTokenHash(ctx, ar, resp)
		idToken, err := d.idTokens.GenerateIDToken(ctx, d.config.GetIDTokenLifespan(ctx), ar)
		if err != nil {
			return err
		}
		resp.SetExtra("id_token", idToken)
	}
	if err := d.s.store.CreateAccessTokenSession(ctx, accessSig, ar.Sanitize(nil)); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if refreshSig != "" {
		if err := d.s.store.CreateRefreshTokenSession(ctx, refreshSig, accessSig, ar.Sanitize(nil)); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// The verification page's view of device requests (web.DeviceVerifier)

type deviceVerifier struct{ s *Server }

var _ web.DeviceVerifier = deviceVerifier{}

func (v deviceVerifier) pending(ctx context.Context, input string) (string, PendingDevice, error) {
	code, ok := normalizeUserCode(input)
	if !ok {
		return "", PendingDevice{}, web.ErrUserCodeInvalid
	}
	d, err := v.s.devices.DeviceByUserCode(ctx, code)
	if errors.Is(err, fosite.ErrNotFound) {
		return "", d, web.ErrUserCodeInvalid
	} else if err != nil {
		return "", d, err
	}
	if d.State != redisstore.DevicePending {
		return "", d, web.ErrUserCodeUsed
	}
	return code, d, nil
}

func (v deviceVerifier) LookupUserCode(ctx context.Context, input string) (web.UserCodeRequest, error) {
	code, d, err := v.pending(ctx, input)
	if err != nil {
		return web.UserCodeRequest{}, err
	}
	c, err := v.s.clients.Get(ctx, d.ClientID)
	if err != nil {
		// The client was deleted meanwhile: nothing to approve.
		return web.UserCodeRequest{}, web.ErrUserCodeInvalid
	}
	return web.UserCodeRequest{UserCode: formatUserCode(code), Client: displayName(c), Scopes: describe(d.Scopes)}, nil
}

func decisionError(err error) error {
	switch {
	case errors.Is(err, fosite.ErrNotFound):
		return web.ErrUserCodeInvalid
	case errors.Is(err, storage.ErrStale):
		return web.ErrUserCodeUsed
	}
	return err
}

func (v deviceVerifier) ApproveUserCode(ctx context.Context, input string, by web.Approver) error {
	code, ok := normalizeUserCode(input)
	if !ok {
		return web.ErrUserCodeInvalid
	}
	sess := newSession(by.Subject, by.Username)
	sess.Device = by.Device // the grant's device: the approving browser
	sess.Claims.AuthTime = by.AuthTime
	sess.Claims.RequestedAt = time.Now().UTC().Truncate(time.Second)
	sess.Claims.AuthenticationMethodsReferences = []string{"pwd"}
	return decisionError(v.s.devices.ApproveDevice(ctx, code, sess))
}

func (v deviceVerifier) DenyUserCode(ctx context.Context, input string) error {
	code, ok := normalizeUserCode(input)
	if !ok {
		return web.ErrUserCodeInvalid
	}
	return decisionError(v.s.devices.DenyDevice(ctx, code))
}

// DeviceFlow is the device flow's area: its two routes, mounted beside the
// protocol's (the token endpoint polls through deviceGrant).
type DeviceFlow struct{ s *Server }

// DeviceFlow returns the server's device flow area.
func (s *Server) DeviceFlow() DeviceFlow { return DeviceFlow{s} }

// Mount mounts the device authorization endpoint and the verification page.
func (d DeviceFlow) Mount(r *mux.Router) {
	s := d.s
	r.HandleFunc("/oauth2/device/auth", s.instrument("device_authorization", s.parsed(s.deviceFormError, s.deviceRated(s.limited(s.deviceAuthorization))))).Methods(http.MethodPost)
	r.Handle("/device", s.deviceVerification()).Methods(http.MethodGet, http.MethodPost)
}

// deviceFormError answers a device authorization whose form was refused.
func (s *Server) deviceFormError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeAccessError(r.Context(), w, nil, err)
}

// deviceRated bounds device authorization requests per client and address
// (before client authentication: a refused request is no attempt).
func (s *Server) deviceRated(h http.Handler) http.HandlerFunc {
	if s.limiter == nil {
		return h.ServeHTTP
	}
	return s.limiter.DeviceAuthorization(h).ServeHTTP
}

// deviceVerification is the /device page handler.
func (s *Server) deviceVerification() http.Handler {
	return s.pages.CSRF(s.pages.DeviceVerification(deviceVerifier{s}, s.guesses))
}
