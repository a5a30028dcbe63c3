package logout

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// BackChannelEvent is the events member that makes a JWT a logout token
// (Back-Channel Logout 1.0 §2.4).
const BackChannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// TokenTTL is how long a logout token is valid: it is minted for each
// delivery attempt, so it only has to outlive one POST.
const TokenTTL = 2 * time.Minute

// Signer is the signing key of an algorithm (keys.Manager).
type Signer interface {
	Signer(alg string) (kid string, key crypto.Signer, err error)
}

// logoutClaims are a logout token's claims: never a nonce (§2.4).
type logoutClaims struct {
	Issuer   string              `json:"iss"`
	Audience string              `json:"aud"`
	IssuedAt int64               `json:"iat"`
	Expiry   int64               `json:"exp"`
	ID       string              `json:"jti"`
	Subject  string              `json:"sub,omitempty"`
	SID      string              `json:"sid,omitempty"`
	Events   map[string]struct{} `json:"events"`
}

// mintToken signs a logout token for client (its ID token algorithm alg)
// about the session sid of subject, with header typ logout+jwt and the
// signing key's kid.
func mintToken(keys Signer, alg, issuer, client, subject, sid string, now time.Time) (string, error) {
	kid, key, err := keys.Signer(alg)
	if err != nil {
		return "", fmt.Errorf("logout: signing key: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key},
		(&jose.SignerOptions{}).WithType("logout+jwt").WithHeader("kid", kid))
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	return josejwt.Signed(signer).Claims(logoutClaims{
		Issuer: issuer, Audience: client, IssuedAt: now.Unix(), Expiry: now.Add(TokenTTL).Unix(),
		ID: base64.RawURLEncoding.EncodeToString(jti), Subject: subject, SID: sid,
		Events: map[string]struct{}{BackChannelEvent: {}},
	}).Serialize()
}
