package token

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"golang.org/x/crypto/hkdf"
)

// Token kinds, as they appear in a token's prefix.
const (
	kindCode    = "ac"
	kindAccess  = "at"
	kindRefresh = "rt"
	kindDevice  = "dc"
)

// Strategy issues authd's opaque tokens and implements fosite's
// authorization code, access token and refresh token strategies.
//
// The MAC is checked before storage is consulted, so a forged token can
// neither reach Redis nor trigger reuse detection (and with it the
// revocation of somebody's grant).
type Strategy struct {
	key []byte
	// macs pools keyed HMAC states: hmac.New allocates two hash states and
	// hashes the padded key into both, work every token check would repeat.
	macs sync.Pool
	// verified counts MAC checks of presented tokens (Verified).
	verified atomic.Int64
}

var _ oauth2.CoreStrategy = (*Strategy)(nil)

// New derives the MAC key from the system secret.
func New(secret []byte) (*Strategy, error) {
	if len(secret) < 32 {
		return nil, errors.New("token: system secret must be at least 32 bytes")
	}
	key := make([]byte, 32)
	if _, err := hkdf.New(sha256.New, secret, nil, []byte("authd token mac v1")).Read(key); err != nil {
		return nil, err
	}
	s := &Strategy{key: key}
	s.macs.New = func() any { return hmac.New(sha256.New, key) }
	return s, nil
}

var b64 = base64.RawURLEncoding

// Signature is a parsed token signature, <grant>.<gen>.<mac>: what storage
// keys a token by.
type Signature struct {
	Grant string
	Gen   uint64
	MAC   string
}

func (s Signature) String() string {
	return s.Grant + "." + strconv.FormatUint(s.Gen, 10) + "." + s.MAC
}

// ParseSignature parses a signature produced by Strategy. It accepts a
// whole token too (fosite hands the OpenID Connect storage the raw code) and
// then returns its signature without verifying the MAC: callers that need
// authenticity go through the strategy's *Signature methods.
func ParseSignature(s string) (Signature, bool) {
	if strings.HasPrefix(s, "authd_") {
		t, ok := split(s)
		if !ok {
			return Signature{}, false
		}
		return t.sig(), true
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 || !ValidGrantID(parts[0]) || parts[2] == "" {
		return Signature{}, false
	}
	gen, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return Signature{}, false
	}
	return Signature{Grant: parts[0], Gen: gen, MAC: parts[2]}, true
}

// ValidGrantID accepts fosite's request ids (UUIDs) and similar: 1-64 chars
// of [A-Za-z0-9-]. Anything else cannot have been issued by us, and would
// otherwise end up inside a Redis key.
func ValidGrantID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

type parsed struct {
	kind, grant, random, mac string
	gen                      uint64
	body                     string // everything the MAC covers
}

func (t parsed) sig() Signature { return Signature{Grant: t.grant, Gen: t.gen, MAC: t.mac} }

// split parses a token without checking its MAC.
func split(token string) (parsed, bool) {
	if len(token) > 512 || !strings.HasPrefix(token, "authd_") || len(token) < 10 || token[8] != '_' {
		return parsed{}, false
	}
	kind := token[6:8]
	parts := strings.Split(token[9:], ".")
	if len(parts) != 4 || !ValidGrantID(parts[0]) || parts[2] == "" || parts[3] == "" {
		return parsed{}, false
	}
	gen, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return parsed{}, false
	}
	body := token[:len(token)-len(parts[3])-1]
	return parsed{kind: kind, grant: parts[0], gen: gen, random: parts[2], mac: parts[3], body: body}, true
}

// macLen is the length of an encoded MAC.
var macLen = b64.EncodedLen(sha256.Size)

// macInto writes the encoded MAC of body into out.
func (s *Strategy) macInto(out *[43]byte, body string) {
	h := s.macs.Get().(hash.Hash)
	h.Reset()
	_, _ = io.WriteString(h, body)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	s.macs.Put(h)
	b64.Encode(out[:], sum[:])
}

func (s *Strategy) mac(body string) string {
	var m [43]byte
	s.macInto(&m, body)
	return string(m[:])
}

func (s *Strategy) generate(kind, grant string, gen uint64) (string, string, error) {
	if !ValidGrantID(grant) {
		return "", "", errors.New("token: request has no usable id")
	}
	r := make([]byte, 24)
	if _, err := rand.Read(r); err != nil {
		return "", "", err
	}
	body := "authd_" + kind + "_" + grant + "." + strconv.FormatUint(gen, 10) + "." + b64.EncodeToString(r)
	m := s.mac(body)
	return body + "." + m, Signature{Grant: grant, Gen: gen, MAC: m}.String(), nil
}

// signature verifies token's MAC and kind and returns its signature, or ""
// (which no stored session matches) for anything we did not issue. Within a
// request marked by WithMemo a token is verified once: fosite asks for the
// signature of the presented refresh token three times and validates it once
// more, and authd's retry window twice more.
func (s *Strategy) signature(ctx context.Context, kind, token string) string {
	m := memoOf(ctx)
	if m != nil && m.token == token && m.kind == kind && token != "" {
		return m.sig
	}
	sig := s.verify(kind, token)
	if m != nil {
		m.kind, m.token, m.sig = kind, token, sig
	}
	return sig
}

// verify checks token's MAC and kind.
func (s *Strategy) verify(kind, token string) string {
	t, ok := split(token)
	if !ok || t.kind != kind {
		return ""
	}
	s.verified.Add(1)
	var m [43]byte
	s.macInto(&m, t.body)
	if len(t.mac) != macLen || !hmac.Equal(m[:], []byte(t.mac)) {
		return ""
	}
	return t.sig().String()
}

// Verified is how many presented tokens this strategy has checked the MAC
// of (tests prove with it that a request checks its token once).
func (s *Strategy) Verified() int64 { return s.verified.Load() }

func (s *Strategy) validate(ctx context.Context, kind string, r fosite.Requester, token string, tt fosite.TokenType, invalid *fosite.RFC6749Error) error {
	if s.signature(ctx, kind, token) == "" {
		return invalid.WithHint("The token is malformed or was not issued by this server.")
	}
	if exp := r.GetSession().GetExpiresAt(tt); !exp.IsZero() && exp.Before(time.Now().UTC()) {
		return fosite.ErrTokenExpired.WithHintf("The %s expired at %s.", tt, exp)
	}
	return nil
}

// AccessTokenSignature verifies an opaque access token and returns its
// signature, or "".
func (s *Strategy) AccessTokenSignature(ctx context.Context, token string) string {
	return s.signature(ctx, kindAccess, token)
}

// GenerateAccessToken issues an access token of r's grant.
func (s *Strategy) GenerateAccessToken(_ context.Context, r fosite.Requester) (string, string, error) {
	return s.generate(kindAccess, r.GetID(), 0)
}

// ValidateAccessToken checks an access token's MAC and its expiry in r.
func (s *Strategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	return s.validate(ctx, kindAccess, r, token, fosite.AccessToken, fosite.ErrInvalidTokenFormat)
}

// RefreshTokenSignature verifies a refresh token and returns its
// signature, or "".
func (s *Strategy) RefreshTokenSignature(ctx context.Context, token string) string {
	return s.signature(ctx, kindRefresh, token)
}

// GenerateRefreshToken issues generation 0 for a new grant and, on a
// refresh, the generation after the presented token's.
func (s *Strategy) GenerateRefreshToken(_ context.Context, r fosite.Requester) (string, string, error) {
	var gen uint64
	if ar, ok := r.(fosite.AccessRequester); ok && ar.GetGrantTypes().ExactOne("refresh_token") {
		t, ok := split(r.GetRequestForm().Get("refresh_token"))
		if !ok {
			return "", "", errors.New("token: refresh request without a parsable refresh token")
		}
		gen = t.gen + 1
	}
	return s.generate(kindRefresh, r.GetID(), gen)
}

// ValidateRefreshToken checks a refresh token's MAC and its expiry in r.
func (s *Strategy) ValidateRefreshToken(ctx context.Context, r fosite.Requester, token string) error {
	return s.validate(ctx, kindRefresh, r, token, fosite.RefreshToken, fosite.ErrInvalidTokenFormat)
}

// AuthorizeCodeSignature verifies an authorization code ("" when forged).
func (s *Strategy) AuthorizeCodeSignature(ctx context.Context, token string) string {
	return s.signature(ctx, kindCode, token)
}

// GenerateAuthorizeCode issues the authorization code of r's grant: its id
// becomes the id of every token the code is exchanged for.
func (s *Strategy) GenerateAuthorizeCode(_ context.Context, r fosite.Requester) (string, string, error) {
	return s.generate(kindCode, r.GetID(), 0)
}

// ValidateAuthorizeCode checks a code's MAC and its expiry in r.
func (s *Strategy) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, token string) error {
	return s.validate(ctx, kindCode, r, token, fosite.AuthorizeCode, fosite.ErrInvalidGrant)
}

// GenerateDeviceCode issues an RFC 8628 device code for grant (a fresh
// grant id: it becomes the request id of the tokens the code is redeemed
// for) and returns it with its signature.
func (s *Strategy) GenerateDeviceCode(grant string) (token, signature string, err error) {
	return s.generate(kindDevice, grant, 0)
}

// DeviceCodeSignature verifies a device code's MAC and returns its
// signature, or "" for anything this server did not issue.
func (s *Strategy) DeviceCodeSignature(token string) string {
	return s.verify(kindDevice, token)
}

// JWTSignature returns the storage signature of a JWT access token (RFC
// 9068) of grant: a MAC of the whole JWT under the strategy's key, so
// storage never holds the token and a JWT with any segment altered finds no
// session.
func (s *Strategy) JWTSignature(grant, jwt string) string {
	if !ValidGrantID(grant) || jwt == "" || len(jwt) > 8192 {
		return ""
	}
	return Signature{Grant: grant, Gen: 0, MAC: s.mac("jwt." + jwt)}.String()
}
