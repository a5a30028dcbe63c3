package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// Signing algorithms the package can generate and serve (JWS "alg" values).
const (
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys
	ES256 = "ES256" // ECDSA P-256 with SHA-256
)

// rsaBits is the RS256 key size. 2048 and not 4096 because every issued
// token (access, ID, logout) is an RSA private-key operation on the hot path,
// and that cost grows roughly with the cube of the modulus size: a 4096-bit
// signature is about 6-8 times slower than a 2048-bit one (see
// BenchmarkSignRS256), while 2048-bit RSA remains acceptable (NIST SP 800-57,
// ~112-bit security) for keys that are rotated. Deployments wanting more
// margin should prefer ES256, which is both stronger and cheaper.
const rsaBits = 2048

// ErrUnsupportedAlg is returned for an algorithm other than RS256 or ES256.
var ErrUnsupportedAlg = errors.New("keys: unsupported signing algorithm")

// Supported reports whether alg is an algorithm this package can generate.
func Supported(alg string) bool { return alg == RS256 || alg == ES256 }

// Generate creates a new private key for alg: RSA 2048 for RS256, P-256 for
// ES256. The concrete type is *rsa.PrivateKey or *ecdsa.PrivateKey, which is
// what fosite's go-jose v3 signer expects.
func Generate(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		k, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return nil, fmt.Errorf("keys: generate RSA key: %w", err)
		}
		return k, nil
	case ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keys: generate P-256 key: %w", err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
}

// newKID returns a random, URL-safe key id (128 bits, base64url, 22 chars).
func newKID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("keys: kid: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// checkKey asserts that a parsed private key matches alg and returns it as a
// crypto.Signer holding the raw key. Errors never include key material.
func checkKey(alg string, priv any) (crypto.Signer, error) {
	switch alg {
	case RS256:
		k, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("keys: alg %s but private key is %T", alg, priv)
		}
		if k.N.BitLen() < rsaBits {
			return nil, fmt.Errorf("keys: RSA key is %d bits, want at least %d", k.N.BitLen(), rsaBits)
		}
		return k, nil
	case ES256:
		k, ok := priv.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("keys: alg %s but private key is %T", alg, priv)
		}
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("keys: alg %s but curve is %s", alg, k.Curve.Params().Name)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
}

// publicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block.
func publicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("keys: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// parsePublicKeyPEM decodes a PKIX "PUBLIC KEY" PEM block.
func parsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("keys: public key is not a PUBLIC KEY PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: parse public key: %w", err)
	}
	return pub, nil
}
