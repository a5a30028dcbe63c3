package oauth

import (
	"time"

	json "github.com/goccy/go-json"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Session is what authd keeps about the user behind a request: subject,
// username, token expiries and the ID token claims set at login. It
// serialises to a compact JSON form (short keys, Unix seconds, only the
// claims authd sets) because one copy lives in Redis per token.
type Session struct {
	Subject   string
	Username  string
	ExpiresAt map[fosite.TokenType]time.Time
	Claims    *jwt.IDTokenClaims
	Headers   *jwt.Headers
	// SID is the browser sign-in session the grant was authorized in (the
	// ID token's and JWT access token's sid claim); "" without one
	// (client_credentials, the device flow).
	SID string
}

var _ openid.Session = (*Session)(nil)

// NewSession returns an empty session; fosite and storage decode into it.
func NewSession() fosite.Session { return newSession("", "") }

func newSession(subject, username string) *Session {
	return &Session{
		Subject: subject, Username: username,
		ExpiresAt: map[fosite.TokenType]time.Time{},
		Claims:    &jwt.IDTokenClaims{Subject: subject},
		// Headers: made by IDTokenHeaders when an ID token is signed (not
		// for every session decoded from storage).
	}
}

func (s *Session) SetExpiresAt(t fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = map[fosite.TokenType]time.Time{}
	}
	s.ExpiresAt[t] = exp
}

func (s *Session) GetExpiresAt(t fosite.TokenType) time.Time {
	if s.ExpiresAt == nil {
		return time.Time{}
	}
	return s.ExpiresAt[t]
}

func (s *Session) GetUsername() string { return s.Username }
func (s *Session) GetSubject() string  { return s.Subject }

func (s *Session) IDTokenClaims() *jwt.IDTokenClaims {
	if s.Claims == nil {
		s.Claims = &jwt.IDTokenClaims{Subject: s.Subject}
	}
	if s.SID != "" && s.Claims.Extra["sid"] != s.SID {
		if s.Claims.Extra == nil {
			s.Claims.Extra = map[string]interface{}{}
		}
		s.Claims.Extra["sid"] = s.SID
	}
	return s.Claims
}

func (s *Session) IDTokenHeaders() *jwt.Headers {
	if s.Headers == nil {
		s.Headers = &jwt.Headers{Extra: map[string]interface{}{}}
	}
	return s.Headers
}

// Clone returns a deep copy (the claims are per request).
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := newSession(s.Subject, s.Username)
	c.SID = s.SID
	for k, v := range s.ExpiresAt {
		c.ExpiresAt[k] = v
	}
	if s.Claims != nil {
		cl := *s.Claims
		cl.Audience = append([]string(nil), s.Claims.Audience...)
		cl.AuthenticationMethodsReferences = append([]string(nil), s.Claims.AuthenticationMethodsReferences...)
		cl.Extra = nil
		c.Claims = &cl
	}
	return c
}

// wire is the stored form of a Session.
type wire struct {
	Sub   string   `json:"s,omitempty"`
	User  string   `json:"u,omitempty"`
	Exp   *wireExp `json:"e,omitempty"`
	Nonce string   `json:"n,omitempty"`
	Auth  int64    `json:"at,omitempty"`
	Rat   int64    `json:"rt,omitempty"`
	AMR   []string `json:"amr,omitempty"`
	SID   string   `json:"sid,omitempty"`
}

// wireExp holds the expiries, Unix seconds, 0 for none. A struct rather
// than a map (the same JSON: fields in the order a map's sorted keys had)
// so decoding a session allocates no map for them.
type wireExp struct {
	Access  int64 `json:"a,omitempty"`
	Code    int64 `json:"c,omitempty"`
	IDToken int64 `json:"i,omitempty"`
	Refresh int64 `json:"r,omitempty"`
}

// field is where token type t's expiry goes (nil: not kept).
func (e *wireExp) field(t fosite.TokenType) *int64 {
	switch t {
	case fosite.AccessToken:
		return &e.Access
	case fosite.AuthorizeCode:
		return &e.Code
	case fosite.IDToken:
		return &e.IDToken
	case fosite.RefreshToken:
		return &e.Refresh
	}
	return nil
}

var expTypes = [...]fosite.TokenType{fosite.AccessToken, fosite.AuthorizeCode, fosite.IDToken, fosite.RefreshToken}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

func (s *Session) MarshalJSON() ([]byte, error) {
	w := wire{Sub: s.Subject, User: s.Username, SID: s.SID}
	var exp wireExp
	for t, v := range s.ExpiresAt {
		if f := exp.field(t); f != nil && !v.IsZero() {
			*f = v.Unix()
		}
	}
	if exp != (wireExp{}) {
		w.Exp = &exp
	}
	if c := s.Claims; c != nil {
		w.Nonce, w.Auth, w.Rat, w.AMR = c.Nonce, unix(c.AuthTime), unix(c.RequestedAt), c.AuthenticationMethodsReferences
	}
	return json.Marshal(w)
}

func (s *Session) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	// Fill s in place (storage decodes into a fresh session: reusing its map
	// and claims saves allocating them twice per token lookup).
	exp, claims := s.ExpiresAt, s.Claims
	if exp == nil {
		exp = map[fosite.TokenType]time.Time{}
	} else {
		clear(exp)
	}
	if claims == nil {
		claims = &jwt.IDTokenClaims{}
	} else {
		*claims = jwt.IDTokenClaims{}
	}
	claims.Subject = w.Sub
	*s = Session{Subject: w.Sub, Username: w.User, ExpiresAt: exp, Claims: claims, SID: w.SID}
	if w.Exp != nil {
		for _, t := range expTypes {
			if v := *w.Exp.field(t); v != 0 {
				s.ExpiresAt[t] = fromUnix(v)
			}
		}
	}
	s.Claims.Nonce, s.Claims.AuthTime, s.Claims.RequestedAt, s.Claims.AuthenticationMethodsReferences =
		w.Nonce, fromUnix(w.Auth), fromUnix(w.Rat), w.AMR
	return nil
}
