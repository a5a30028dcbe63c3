package fositestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	json "github.com/goccy/go-json"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/token"
)

// Records is the part of the Postgres store the adapter needs. Only grant
// creation writes to it; the refresh and introspection paths never call it
// (clients come from the in-memory cache).
type Records interface {
	GetClient(ctx context.Context, id string) (*storage.Client, error)
	CreateGrant(ctx context.Context, g *storage.Grant) error
}

// Revoker ends grants (grants.Manager): the family in Redis with its
// tombstone, then the row, each once.
type Revoker interface {
	// Revoke ends the grant for reason; revoking twice keeps the first
	// reason.
	Revoke(ctx context.Context, grant, reason string) error
	// RecordRevoked marks the row of a grant whose family a revocation
	// already ended, before the grant was born.
	RecordRevoked(ctx context.Context, grant, reason string) error
}

// Store implements every fosite storage interface authd's handlers use.
type Store struct {
	redis   *redisstore.Store
	records Records
	clients *ClientCache
	revoker Revoker
	// newSession returns an empty session to decode stored requests into.
	newSession func() fosite.Session
	// tombstoneTTL: the lifetime of a code's state when its request
	// carries no code expiry (the Revoker keeps its own, for tombstones).
	tombstoneTTL time.Duration
	// refreshScopes: a code exchange issues a refresh token when one of
	// these is granted (fosite's RefreshTokenScopes).
	refreshScopes []string
	// retryWindow: a refresh token rotated away less than this ago is a
	// retry (see oauth's retry window), not reuse. 0 disables it.
	retryWindow time.Duration
	now         func() time.Time
	// decoded remembers recently decoded access-token sessions for
	// LookupAccessToken, keyed by token signature, with the stored bytes
	// they were decoded from.
	decoded *lru.Cache[string, decodedAccess]
}

// decodedAccess is a decoded access-token session, the bytes it came from
// and its issuing client's epoch.
type decodedAccess struct {
	raw   []byte
	req   *fosite.Request
	epoch int64
}

// decodedCacheSize bounds LookupAccessToken's cache (a few KiB per entry).
const decodedCacheSize = 4096

// Compile-time proof that Store satisfies what fosite's compose type-asserts.
var (
	_ fosite.ClientManager               = (*Store)(nil)
	_ oauth2.CoreStorage                 = (*Store)(nil)
	_ oauth2.TokenRevocationStorage      = (*Store)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Store)(nil)
	_ pkce.PKCERequestStorage            = (*Store)(nil)
)

// Config configures New.
type Config struct {
	Redis         *redisstore.Store
	Records       Records
	Clients       *ClientCache
	Revoker       Revoker
	NewSession    func() fosite.Session
	TombstoneTTL  time.Duration
	RefreshScopes []string
	// RetryWindow is AUTHD_REFRESH_RETRY_WINDOW (0: off).
	RetryWindow time.Duration
}

// New returns the adapter.
func New(c Config) *Store {
	if c.TombstoneTTL <= 0 {
		c.TombstoneTTL = 10 * time.Minute
	}
	decoded, _ := lru.New[string, decodedAccess](decodedCacheSize) // only a size <= 0 fails
	return &Store{
		redis: c.Redis, records: c.Records, clients: c.Clients, revoker: c.Revoker, newSession: c.NewSession,
		tombstoneTTL: c.TombstoneTTL, refreshScopes: c.RefreshScopes, retryWindow: c.RetryWindow, now: time.Now,
		decoded: decoded,
	}
}

// ---------------------------------------------------------------------------
// Serialisation: a small versioned envelope. The client is stored by id and
// re-fetched (from the cache) on load, never serialised whole.

type envelope struct {
	V           int    `json:"v"`
	ID          string `json:"i"`
	RequestedAt int64  `json:"t"`
	Client      string `json:"c"`
	// ClientEpoch is the issuing registration's Client.Epoch (0: unknown,
	// requests stored before epochs were recorded).
	ClientEpoch int64           `json:"ce,omitempty"`
	Scopes      []string        `json:"s,omitempty"`
	Granted     []string        `json:"gs,omitempty"`
	Audience    []string        `json:"a,omitempty"`
	GrantedAud  []string        `json:"ga,omitempty"`
	Form        url.Values      `json:"f,omitempty"`
	Session     json.RawMessage `json:"x,omitempty"`
}

func encode(r fosite.Requester) ([]byte, error) {
	e := envelope{
		V: 1, ID: r.GetID(), RequestedAt: r.GetRequestedAt().Unix(), Client: r.GetClient().GetID(),
		Scopes: r.GetRequestedScopes(), Granted: r.GetGrantedScopes(),
		Audience: r.GetRequestedAudience(), GrantedAud: r.GetGrantedAudience(),
	}
	if c, ok := r.GetClient().(*Client); ok {
		e.ClientEpoch = c.Epoch()
	}
	if f := r.GetRequestForm(); len(f) > 0 {
		e.Form = f
	}
	if s := r.GetSession(); s != nil {
		b, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("fositestore: encode session: %w", err)
		}
		e.Session = b
	}
	return json.Marshal(e)
}

// decode rebuilds a request into session (a fresh one when nil) and
// re-fetches its client.
func (s *Store) decode(ctx context.Context, b []byte, session fosite.Session) (*fosite.Request, error) {
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("fositestore: corrupt stored request: %w", err)
	}
	if e.V != 1 {
		return nil, fmt.Errorf("fositestore: unknown stored request version %d", e.V)
	}
	// Always decode into a fresh session, never into the one passed in:
	// fosite passes the live request's own session (the PKCE and OpenID
	// Connect handlers, and the code grant's second lookup, during a code
	// exchange, after the access and refresh token expiries were set on
	// it), and overwriting it would wipe those expiries. fosite only uses
	// the returned request's session.
	session = s.newSession()
	if len(e.Session) > 0 {
		if err := json.Unmarshal(e.Session, session); err != nil {
			return nil, fmt.Errorf("fositestore: corrupt stored session: %w", err)
		}
	}
	client, err := s.issuer(ctx, e.Client, e.ClientEpoch)
	if err != nil {
		return nil, err
	}
	r := &fosite.Request{
		ID: e.ID, RequestedAt: time.Unix(e.RequestedAt, 0).UTC(), Client: client,
		RequestedScope: e.Scopes, GrantedScope: e.Granted,
		RequestedAudience: e.Audience, GrantedAudience: e.GrantedAud,
		Form: e.Form, Session: session,
	}
	if r.Form == nil {
		r.Form = url.Values{}
	}
	return r, nil
}

// issuer returns the client a stored request names when it is still the
// registration that issued the request (epoch; 0 accepts any). The client
// deleted, or deleted and registered again under the same id, makes the
// request dead (fosite.ErrNotFound): re-creating a client never brings its
// predecessor's tokens back. A request newer than the cached registration
// (registered again after this replica cached the old one) reloads it.
func (s *Store) issuer(ctx context.Context, id string, epoch int64) (*Client, error) {
	c, err := s.clients.Get(ctx, id)
	if err == nil && epoch > c.Epoch() {
		c, err = s.clients.Reload(ctx, id)
	}
	if err != nil {
		return nil, fosite.ErrNotFound.WithWrap(err)
	}
	if epoch != 0 && epoch != c.Epoch() {
		return nil, fosite.ErrNotFound.WithDebug("The client was registered again since this token was issued.")
	}
	return c, nil
}

// mapErr turns storage errors into fosite's sentinels.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redisstore.ErrNotFound), errors.Is(err, storage.ErrNotFound):
		return fosite.ErrNotFound.WithWrap(err)
	case errors.Is(err, storage.ErrStale):
		return fosite.ErrSerializationFailure.WithWrap(err)
	}
	return err
}

func ttlUntil(now time.Time, exp time.Time, fallback time.Duration) time.Duration {
	if exp.IsZero() {
		return fallback
	}
	return exp.Sub(now)
}

// ---------------------------------------------------------------------------
// fosite.ClientManager

// GetClient returns the client from the in-memory cache, loading it from
// Postgres on a miss. Within a client authentication (WithClientAuthentication)
// it remembers the id, for the client assertion checks that follow.
func (s *Store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if a, ok := ctx.Value(authenticationKey{}).(*authentication); ok {
		a.clientID = id
	}
	c, err := s.clients.Get(ctx, id)
	if err != nil {
		return nil, mapErr(err)
	}
	return c, nil
}

type authenticationKey struct{}

// authentication is one client authentication by fosite: the client it
// loaded (fosite loads the client an assertion names, verifies that its
// iss and sub are that client, then checks the jti).
type authentication struct{ clientID string }

// WithClientAuthentication returns ctx for one fosite client
// authentication (fosite.Config.ClientAuthenticationStrategy): client
// assertion ids (jti) are then remembered per client, so one client's ids
// can neither collide with nor burn another's. Outside it, every client
// assertion is refused.
func WithClientAuthentication(ctx context.Context) context.Context {
	return context.WithValue(ctx, authenticationKey{}, &authentication{})
}

// assertionClient is the client fosite loaded in this authentication.
func assertionClient(ctx context.Context) (string, error) {
	if a, ok := ctx.Value(authenticationKey{}).(*authentication); ok && a.clientID != "" {
		return a.clientID, nil
	}
	return "", errors.New("fositestore: a client assertion outside a client authentication (WithClientAuthentication)")
}

// ClientAssertionJWTValid returns fosite.ErrJTIKnown when the client
// already used a client assertion with this jti (RFC 7523 §3 replay
// protection; the ids live in Redis until the assertion expires).
func (s *Store) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	client, err := assertionClient(ctx)
	if err != nil {
		return err
	}
	seen, err := s.redis.JTISeen(ctx, client, jti)
	if err != nil {
		return err
	}
	if seen {
		return fosite.ErrJTIKnown
	}
	return nil
}

// SetClientAssertionJWT records the client's jti until exp; a concurrent
// replay of the same assertion loses here with fosite.ErrJTIKnown.
func (s *Store) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	client, err := assertionClient(ctx)
	if err != nil {
		return err
	}
	fresh, err := s.redis.MarkJTI(ctx, client, jti, exp)
	if err != nil {
		return err
	}
	if !fresh {
		return fosite.ErrJTIKnown.WithHint("The client assertion was already used.")
	}
	return nil
}

// ---------------------------------------------------------------------------
// Authorization codes

func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return fmt.Errorf("fositestore: bad code signature")
	}
	b, err := encode(r)
	if err != nil {
		return err
	}
	ttl := ttlUntil(s.now(), r.GetSession().GetExpiresAt(fosite.AuthorizeCode), s.tombstoneTTL)
	return s.redis.CreateCode(ctx, sg.Grant, sg.MAC, b, ttl)
}

// GetAuthorizeCodeSession returns fosite.ErrInvalidatedAuthorizeCode, with
// the request, for a code that was already exchanged: fosite then revokes
// the tokens issued from it (RFC 6749 §4.1.2). A code whose exchange is in
// flight is reported as not found, so a concurrent duplicate loses without
// revoking the winner's tokens.
func (s *Store) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return nil, fosite.ErrNotFound
	}
	b, state, err := s.redis.GetCode(ctx, sg.Grant, sg.MAC)
	if err != nil {
		return nil, mapErr(err)
	}
	switch state {
	case redisstore.CodeExchanging:
		return nil, fosite.ErrNotFound.WithHint("The authorization code is being redeemed by another request.")
	case redisstore.CodeExchanged:
		// A replay (RFC 6749 §4.1.2): revoke what the code produced, with
		// the reason on the grant row; fosite's own revocation calls that
		// follow are no-ops. Only the grant id is needed: the exchanged
		// code keeps no payload.
		if err := s.revoke(ctx, sg.Grant, storage.RevokedCodeReplay); err != nil {
			return nil, err
		}
		return &fosite.Request{ID: sg.Grant, Client: &fosite.DefaultClient{}, Session: s.newSession(), Form: url.Values{}}, fosite.ErrInvalidatedAuthorizeCode
	}
	return s.decode(ctx, b, session)
}

// InvalidateAuthorizeCodeSession starts the code's single exchange; exactly
// one concurrent caller succeeds, the others get storage.ErrStale.
func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return fosite.ErrNotFound
	}
	return mapErr(s.redis.BeginCodeExchange(ctx, sg.Grant, sg.MAC))
}

// ---------------------------------------------------------------------------
// PKCE and OpenID Connect request sessions

func (s *Store) putAux(ctx context.Context, key, kind string, r fosite.Requester) error {
	sg, ok := token.ParseSignature(key)
	if !ok {
		return fmt.Errorf("fositestore: bad code for %s session", kind)
	}
	b, err := encode(r)
	if err != nil {
		return err
	}
	ttl := ttlUntil(s.now(), r.GetSession().GetExpiresAt(fosite.AuthorizeCode), s.tombstoneTTL)
	return s.redis.PutAux(ctx, sg.Grant, kind, b, ttl)
}

func (s *Store) getAux(ctx context.Context, key, kind string, session fosite.Session) (fosite.Requester, error) {
	sg, ok := token.ParseSignature(key)
	if !ok {
		return nil, redisstore.ErrNotFound
	}
	b, err := s.redis.GetAux(ctx, sg.Grant, kind)
	if err != nil {
		return nil, err
	}
	return s.decode(ctx, b, session)
}

func (s *Store) deleteAux(ctx context.Context, key, kind string) error {
	sg, ok := token.ParseSignature(key)
	if !ok {
		return nil
	}
	return s.redis.DeleteAux(ctx, sg.Grant, kind)
}

func (s *Store) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.putAux(ctx, signature, "pk", r)
}

func (s *Store) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	r, err := s.getAux(ctx, signature, "pk", session)
	return r, mapErr(err)
}

func (s *Store) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return s.deleteAux(ctx, signature, "pk")
}

func (s *Store) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.putAux(ctx, code, "oi", r)
}

func (s *Store) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	out, err := s.getAux(ctx, code, "oi", r.GetSession())
	if errors.Is(err, redisstore.ErrNotFound) {
		return nil, openid.ErrNoSessionFound
	}
	return out, err
}

func (s *Store) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.deleteAux(ctx, code, "oi")
}

// ---------------------------------------------------------------------------
// Access tokens

func isBirth(r fosite.Requester) bool {
	if r.GetSession() == nil || r.GetSession().GetSubject() == "" {
		return false
	}
	gt := r.GetRequestForm().Get("grant_type")
	return gt == "authorization_code" || gt == storage.DeviceCodeGrantType
}

// issuesRefresh mirrors fosite's canIssueRefreshToken.
func (s *Store) issuesRefresh(r fosite.Requester) bool {
	if len(s.refreshScopes) > 0 && !r.GetGrantedScopes().HasOneOf(s.refreshScopes...) {
		return false
	}
	return r.GetClient().GetGrantTypes().Has("refresh_token")
}

// CreateAccessTokenSession stores an access token. When it is the first token
// of a user's grant (code or device exchange), the grant is born: its
// Postgres row is written first, then its Redis family.
func (s *Store) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return fmt.Errorf("fositestore: bad access token signature")
	}
	now := s.now()
	ttl := ttlUntil(now, r.GetSession().GetExpiresAt(fosite.AccessToken), time.Hour)
	if tx := rotationOf(ctx, sg.Grant); tx != nil && tx.access == nil && !isBirth(r) {
		b, err := encode(r)
		if err != nil {
			return err
		}
		tx.access = &pendingWrite{sig: sg, payload: b, ttl: ttl, req: r} // tx.go
		return nil
	}
	var birth *redisstore.Birth
	if isBirth(r) {
		refresh := s.issuesRefresh(r)
		exp := r.GetSession().GetExpiresAt(fosite.AccessToken)
		if refresh {
			exp = r.GetSession().GetExpiresAt(fosite.RefreshToken)
		}
		birth = &redisstore.Birth{FamilyTTL: ttlUntil(now, exp, ttl), CodeDone: !refresh}
		// Before encoding: the birth takes the authorizing device out of
		// the session, so neither this token nor the refresh token
		// stored after it carries the device.
		if err := s.createGrant(ctx, r, now, exp); err != nil {
			return err
		}
	}
	b, err := encode(r)
	if err != nil {
		return err
	}
	err = s.redis.CreateAccess(ctx, sg.Grant, sg.MAC, b, ttl, birth)
	if errors.Is(err, storage.ErrRevoked) && birth != nil {
		// Revoked while being born (an authorization code replayed during
		// its exchange): the row must say so too.
		_ = s.revoker.RecordRevoked(ctx, sg.Grant, storage.RevokedCodeReplay)
	}
	return err
}

// createGrant records the grant born from r. Its device (User-Agent and
// first address) is the browser that authorized it, which the code's or
// device code's session carried here (taken out of the session); its last
// use is this token request. A session that carries no device (a code
// issued by an older authd) names the token request's caller.
func (s *Store) createGrant(ctx context.Context, r fosite.Requester, now, exp time.Time) error {
	last := storage.RequestMetaFrom(ctx)
	device := last
	if c, ok := r.GetSession().(storage.DeviceCarrier); ok {
		if d, ok := c.TakeDevice(); ok {
			device = d.Clean()
		}
	}
	flow := "authorization_code"
	if r.GetRequestForm().Get("grant_type") == storage.DeviceCodeGrantType {
		flow = "device_code"
	}
	g := &storage.Grant{
		ID: r.GetID(), Subject: r.GetSession().GetSubject(), ClientID: r.GetClient().GetID(),
		Scopes: r.GetGrantedScopes(), Flow: flow, UserAgent: device.UserAgent,
		FirstIP: device.IP, LastIP: last.IP, CreatedAt: now, LastUsedAt: now, ExpiresAt: exp,
	}
	if err := s.records.CreateGrant(ctx, g); err != nil {
		return fmt.Errorf("fositestore: record grant: %w", err)
	}
	return nil
}

// GetAccessTokenSession is one Redis GET and the client from the in-memory
// cache (fosite's handlers and bearer-token checks; introspection, which only
// reads the result, uses LookupAccessToken).
func (s *Store) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	b, err := s.accessBytes(ctx, signature)
	if err != nil {
		return nil, err
	}
	return s.decode(ctx, b, session)
}

// accessBytes reads the stored request of the access token with signature.
func (s *Store) accessBytes(ctx context.Context, signature string) ([]byte, error) {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return nil, fosite.ErrNotFound
	}
	b, err := s.redis.GetAccess(ctx, sg.Grant, sg.MAC)
	return b, mapErr(err)
}

// LookupAccessToken is GetAccessTokenSession for callers that only read the
// result (introspection): the request it returns may be shared with other
// callers and must not be modified, nor its session. Redis is read every
// time, so a revoked, expired or rotated-away token is gone at once; what is
// saved is decoding: when Redis returns the very bytes decoded for this
// signature before, that decoded request is reused (resource servers
// introspect the same token on every call). The client is looked up each
// time, as decode does: a deleted client's tokens stay dead.
func (s *Store) LookupAccessToken(ctx context.Context, signature string) (fosite.Requester, error) {
	b, err := s.accessBytes(ctx, signature)
	if err != nil {
		return nil, err
	}
	if d, ok := s.decoded.Get(signature); ok && bytes.Equal(d.raw, b) {
		client, err := s.issuer(ctx, d.req.Client.GetID(), d.epoch)
		if err != nil {
			return nil, err
		}
		r := *d.req
		r.Client = client
		return &r, nil
	}
	r, err := s.decode(ctx, b, nil)
	if err != nil {
		return nil, err
	}
	s.decoded.Add(signature, decodedAccess{raw: b, req: r, epoch: r.Client.(*Client).Epoch()})
	return r, nil
}

func (s *Store) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return nil
	}
	return s.redis.DeleteAccess(ctx, sg.Grant)
}

// ---------------------------------------------------------------------------
// Refresh tokens

func (s *Store) CreateRefreshTokenSession(ctx context.Context, signature, _ string, r fosite.Requester) error {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return fmt.Errorf("fositestore: bad refresh token signature")
	}
	tx := rotationOf(ctx, sg.Grant)
	b, err := tx.encode(r) // tx.go: fosite stores one request twice in a refresh
	if err != nil {
		return err
	}
	ttl := ttlUntil(s.now(), r.GetSession().GetExpiresAt(fosite.RefreshToken), 30*24*time.Hour)
	if tx != nil && tx.refresh == nil {
		tx.refresh = &pendingWrite{sig: sg, payload: b, ttl: ttl}
		return nil
	}
	return mapRevoked(s.redis.CreateRefresh(ctx, sg.Grant, sg.Gen, sg.MAC, b, ttl, sg.Gen == 0))
}

func mapRevoked(err error) error {
	if errors.Is(err, storage.ErrRevoked) {
		return fosite.ErrNotFound.WithWrap(err)
	}
	return mapErr(err)
}

// GetRefreshTokenSession returns the live refresh token's request. For a
// token that was already rotated away it revokes the grant with reason
// reuse_detected and returns fosite.ErrInactiveToken with a request carrying
// the grant id, on which fosite revokes the family again (a no-op by then).
func (s *Store) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return nil, fosite.ErrNotFound
	}
	b, state, err := s.redis.GetRefresh(ctx, sg.Grant, sg.Gen, sg.MAC, s.retryWindow, tokenRequestBegun(ctx))
	if isRevocation(ctx) && (errors.Is(err, redisstore.ErrNotFound) || err == nil && state == redisstore.RefreshRetry) {
		if r, ok := s.rotatingRequest(ctx, sg, session); ok { // revocation.go
			return r, nil
		}
	}
	if err != nil {
		return nil, mapErr(err)
	}
	if state == redisstore.RefreshRetry {
		// A retry within the window that the token endpoint could not
		// answer from the stored response (another client, or the
		// response not stored yet): refused, but not treated as reuse.
		return nil, fosite.ErrNotFound.WithHint("The refresh token was just rotated.")
	}
	if state == redisstore.RefreshRotated {
		if err := s.revoke(ctx, sg.Grant, storage.RevokedReuse); err != nil {
			return nil, err
		}
		return &fosite.Request{ID: sg.Grant, Client: &fosite.DefaultClient{}, Session: session, Form: url.Values{}}, fosite.ErrInactiveToken
	}
	return s.decode(ctx, b, session)
}

// DeleteRefreshTokenSession is only called by fosite on reuse; the family is
// already revoked then.
func (s *Store) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return nil
	}
	return s.revoke(ctx, sg.Grant, storage.RevokedReuse)
}

// RotateRefreshToken retires the presented refresh token and the grant's
// access token atomically. Exactly one of several concurrent refreshes with
// the same token gets past it. Inside a transaction (fosite's refresh
// handler) the rotation waits for Commit, which writes it together with the
// new tokens in one script (tx.go).
func (s *Store) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	sg, ok := token.ParseSignature(signature)
	if !ok || sg.Grant != requestID {
		return fosite.ErrNotFound
	}
	if bufferRotation(ctx, sg) {
		return nil
	}
	return mapRevoked(s.redis.Rotate(ctx, sg.Grant, sg.Gen, sg.MAC))
}

// RevokeRefreshToken revokes the whole grant (RFC 7009 §2.1).
func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.revokeForClient(ctx, requestID)
}

// RevokeAccessToken revokes the whole grant too: fosite revokes by request
// id, and an access token's grant is its family.
func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.revokeForClient(ctx, requestID)
}

// revoke ends the grant for reason (the Revoker: its tokens gone from
// Redis, and a user's grant's row marked). Revoking twice is harmless; the
// first reason is kept.
func (s *Store) revoke(ctx context.Context, grant, reason string) error {
	if !token.ValidGrantID(grant) {
		return fosite.ErrNotFound
	}
	return s.revoker.Revoke(ctx, grant, reason)
}

// Successor is the sealed token response that rotated away a refresh token,
// kept for the retry window.
type Successor struct {
	ClientID string
	Sealed   []byte
}

// PutSuccessor keeps the sealed response of the refresh that rotated away
// the token with signature oldSignature, for the retry window.
func (s *Store) PutSuccessor(ctx context.Context, oldSignature string, succ Successor) error {
	sg, ok := token.ParseSignature(oldSignature)
	if !ok || s.retryWindow <= 0 {
		return nil
	}
	return s.redis.PutSuccessor(ctx, sg.Grant, sg.Gen, sg.MAC, succ.ClientID, succ.Sealed, s.retryWindow)
}

// GetSuccessor returns what PutSuccessor kept for oldSignature, or
// fosite.ErrNotFound.
func (s *Store) GetSuccessor(ctx context.Context, oldSignature string) (Successor, error) {
	sg, ok := token.ParseSignature(oldSignature)
	if !ok || s.retryWindow <= 0 {
		return Successor{}, fosite.ErrNotFound
	}
	c, b, err := s.redis.GetSuccessor(ctx, sg.Grant, sg.Gen, sg.MAC)
	if err != nil {
		return Successor{}, mapErr(err)
	}
	return Successor{ClientID: c, Sealed: b}, nil
}
