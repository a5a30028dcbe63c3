package main

import (
	"crypto/ecdsa"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// assertionWithJTI is an RFC 7523 client assertion for id with the given
// jti, valid for a minute.
func assertionWithJTI(t *testing.T, e *e2e, id string, key *ecdsa.PrivateKey, jti string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", id+"-k1"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := josejwt.Signed(signer).Claims(map[string]any{
		"iss": id, "sub": id, "aud": e.srv.URL + "/oauth2/token", "jti": jti,
		"exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix(),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClientAssertionJTIPerClient: client assertion ids are remembered per
// client (RFC 7523 §3 asks for uniqueness per issuer). One client using a
// jti — by accident, or on purpose to burn another client's next one —
// does not make another client's assertion with the same jti a replay;
// a client's own replay still is.
func TestClientAssertionJTIPerClient(t *testing.T) {
	e := newE2E(t)
	keyA := pkjClient(t, e, "pkj-a", false)
	keyB := pkjClient(t, e, "pkj-b", false)
	token := func(id string, key *ecdsa.PrivateKey, jti string) apiResp {
		return e.post("/oauth2/token", withAssertion(url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}},
			assertionWithJTI(t, e, id, key, jti)))
	}
	const jti = "predictable-jti-0001"
	if r := token("pkj-a", keyA, jti); r.Status != http.StatusOK {
		t.Fatalf("client A: %v", r)
	}
	if r := token("pkj-b", keyB, jti); r.Status != http.StatusOK {
		t.Errorf("client B with the jti client A used: %v", r)
	}
	wantOAuthError(t, token("pkj-a", keyA, jti), http.StatusBadRequest, "jti_known")
	wantOAuthError(t, token("pkj-b", keyB, jti), http.StatusBadRequest, "jti_known")
}
