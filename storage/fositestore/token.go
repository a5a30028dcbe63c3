package fositestore

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
)

// TokenStrategy issues authd's opaque tokens and implements fosite's
// authorization code, access token and refresh token strategies.
//
// A token reads authd_<kind>_<grant>.<gen>.<random>.<mac>, where mac is an
// HMAC-SHA256 over everything before it under a key derived from the system
// secret. Its signature (what storage is keyed by) is <grant>.<gen>.<mac>.
// The grant id in the token lets every key of a grant share one Redis hash
// tag; the generation lets storage tell a rotated-away refresh token (reuse)
// from a forged one without keeping a marker per rotation. The MAC is checked
// before storage is consulted, so a forged token can neither reach Redis nor
// trigger reuse detection (and with it the revocation of somebody's grant).
type TokenStrategy struct {
	key []byte
	// macs pools keyed HMAC states: hmac.New allocates two hash states and
	// hashes the padded key into both, work every token check would repeat.
	macs sync.Pool
}

var (
	_ oauth2.CoreStrategy = (*TokenStrategy)(nil)
)

// NewTokenStrategy derives the MAC key from the system secret.
func NewTokenStrategy(secret []byte) (*TokenStrategy, error) {
	if len(secret) < 32 {
		return nil, errors.New("fositestore: system secret must be at least 32 bytes")
	}
	key := make([]byte, 32)
	if _, err := hkdf.New(sha256.New, secret, nil, []byte("authd token mac v1")).Read(key); err != nil {
		return nil, err
	}
	s := &TokenStrategy{key: key}
	s.macs.New = func() any { return hmac.New(sha256.New, key) }
	return s, nil
}

var b64 = base64.RawURLEncoding

// sig is a parsed token signature.
type sig struct {
	grant string
	gen   uint64
	mac   string
}

func (s sig) String() string {
	return s.grant + "." + strconv.FormatUint(s.gen, 10) + "." + s.mac
}

// parseSig parses a signature produced by this strategy. It accepts a whole
// token too (fosite hands the OpenID Connect storage the raw code) and then
// returns its signature without verifying the MAC: callers that need
// authenticity go through the strategy's *Signature methods.
func parseSig(s string) (sig, bool) {
	if strings.HasPrefix(s, "authd_") {
		_, t, ok := splitToken(s)
		if !ok {
			return sig{}, false
		}
		return t.sig(), true
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 || !validGrantID(parts[0]) || parts[2] == "" {
		return sig{}, false
	}
	gen, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return sig{}, false
	}
	return sig{grant: parts[0], gen: gen, mac: parts[2]}, true
}

// validGrantID accepts fosite's request ids (UUIDs) and similar: 1-64 chars
// of [A-Za-z0-9-]. Anything else cannot have been issued by us, and would
// otherwise end up inside a Redis key.
func validGrantID(id string) bool {
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

type parsedToken struct {
	kind, grant, random, mac string
	gen                      uint64
	body                     string // everything the MAC covers
}

func (t parsedToken) sig() sig { return sig{grant: t.grant, gen: t.gen, mac: t.mac} }

func splitToken(token string) (string, parsedToken, bool) {
	if len(token) > 512 || !strings.HasPrefix(token, "authd_") || len(token) < 10 || token[8] != '_' {
		return "", parsedToken{}, false
	}
	kind := token[6:8]
	parts := strings.Split(token[9:], ".")
	if len(parts) != 4 || !validGrantID(parts[0]) || parts[2] == "" || parts[3] == "" {
		return "", parsedToken{}, false
	}
	gen, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return "", parsedToken{}, false
	}
	body := token[:len(token)-len(parts[3])-1]
	return kind, parsedToken{kind: kind, grant: parts[0], gen: gen, random: parts[2], mac: parts[3], body: body}, true
}

// macLen is the length of an encoded MAC.
var macLen = b64.EncodedLen(sha256.Size)

// macInto writes the encoded MAC of body into out.
func (s *TokenStrategy) macInto(out *[43]byte, body string) {
	h := s.macs.Get().(hash.Hash)
	h.Reset()
	_, _ = io.WriteString(h, body)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	s.macs.Put(h)
	b64.Encode(out[:], sum[:])
}

func (s *TokenStrategy) mac(body string) string {
	var m [43]byte
	s.macInto(&m, body)
	return string(m[:])
}

func (s *TokenStrategy) generate(kind, grant string, gen uint64) (string, string, error) {
	if !validGrantID(grant) {
		return "", "", errors.New("fositestore: request has no usable id")
	}
	r := make([]byte, 24)
	if _, err := rand.Read(r); err != nil {
		return "", "", err
	}
	body := "authd_" + kind + "_" + grant + "." + strconv.FormatUint(gen, 10) + "." + b64.EncodeToString(r)
	m := s.mac(body)
	return body + "." + m, sig{grant: grant, gen: gen, mac: m}.String(), nil
}

// signature verifies token's MAC and kind and returns its signature, or ""
// (which no stored session matches) for anything we did not issue.
func (s *TokenStrategy) signature(kind, token string) string {
	k, t, ok := splitToken(token)
	if !ok || k != kind {
		return ""
	}
	var m [43]byte
	s.macInto(&m, t.body)
	if len(t.mac) != macLen || !hmac.Equal(m[:], []byte(t.mac)) {
		return ""
	}
	return t.sig().String()
}

func (s *TokenStrategy) validate(kind string, r fosite.Requester, token string, tt fosite.TokenType, invalid *fosite.RFC6749Error) error {
	if s.signature(kind, token) == "" {
		return invalid.WithHint("The token is malformed or was not issued by this server.")
	}
	if exp := r.GetSession().GetExpiresAt(tt); !exp.IsZero() && exp.Before(time.Now().UTC()) {
		return fosite.ErrTokenExpired.WithHintf("The %s expired at %s.", tt, exp)
	}
	return nil
}

func (s *TokenStrategy) AccessTokenSignature(_ context.Context, token string) string {
	return s.signature(kindAccess, token)
}

func (s *TokenStrategy) GenerateAccessToken(_ context.Context, r fosite.Requester) (string, string, error) {
	return s.generate(kindAccess, r.GetID(), 0)
}

func (s *TokenStrategy) ValidateAccessToken(_ context.Context, r fosite.Requester, token string) error {
	return s.validate(kindAccess, r, token, fosite.AccessToken, fosite.ErrInvalidTokenFormat)
}

func (s *TokenStrategy) RefreshTokenSignature(_ context.Context, token string) string {
	return s.signature(kindRefresh, token)
}

// GenerateRefreshToken issues generation 0 for a new grant and, on a
// refresh, the generation after the presented token's.
func (s *TokenStrategy) GenerateRefreshToken(_ context.Context, r fosite.Requester) (string, string, error) {
	var gen uint64
	if ar, ok := r.(fosite.AccessRequester); ok && ar.GetGrantTypes().ExactOne("refresh_token") {
		_, t, ok := splitToken(r.GetRequestForm().Get("refresh_token"))
		if !ok {
			return "", "", errors.New("fositestore: refresh request without a parsable refresh token")
		}
		gen = t.gen + 1
	}
	return s.generate(kindRefresh, r.GetID(), gen)
}

func (s *TokenStrategy) ValidateRefreshToken(_ context.Context, r fosite.Requester, token string) error {
	return s.validate(kindRefresh, r, token, fosite.RefreshToken, fosite.ErrInvalidTokenFormat)
}

func (s *TokenStrategy) AuthorizeCodeSignature(_ context.Context, token string) string {
	return s.signature(kindCode, token)
}

func (s *TokenStrategy) GenerateAuthorizeCode(_ context.Context, r fosite.Requester) (string, string, error) {
	return s.generate(kindCode, r.GetID(), 0)
}

func (s *TokenStrategy) ValidateAuthorizeCode(_ context.Context, r fosite.Requester, token string) error {
	return s.validate(kindCode, r, token, fosite.AuthorizeCode, fosite.ErrInvalidGrant)
}

// JWTSignature returns the storage signature of a JWT access token (RFC
// 9068) of grant: a MAC of the whole JWT under the strategy's key, so
// storage never holds the token and a JWT with any segment altered finds no
// session.
func (s *TokenStrategy) JWTSignature(grant, jwt string) string {
	if !validGrantID(grant) || jwt == "" || len(jwt) > 8192 {
		return ""
	}
	return sig{grant: grant, gen: 0, mac: s.mac("jwt." + jwt)}.String()
}
