package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/hkdf"

	"github.com/authd/authd/storage"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/sealed_v1.json (never for an existing envelope version)")

func TestSealOpenRoundTrip(t *testing.T) {
	s, err := newSealer(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("a PKCS#8 private key would go here")
	env1, err := s.seal("kid-1", pt)
	if err != nil {
		t.Fatal(err)
	}
	env2, _ := s.seal("kid-1", pt)
	if bytes.Equal(env1, env2) {
		t.Fatal("two seals of the same key are identical: nonce not random")
	}
	if env1[0] != envelopeV1 {
		t.Fatalf("version byte %#x", env1[0])
	}
	if bytes.Contains(env1, pt) {
		t.Fatal("envelope contains the plaintext")
	}
	got, err := s.open("kid-1", env1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pt) {
		t.Fatal("round trip changed the plaintext")
	}
}

func TestOpenFailures(t *testing.T) {
	s, _ := newSealer(testSecret)
	env, _ := s.seal("kid-1", []byte("private"))
	wrong, _ := newSealer([]byte("another-system-secret-0123456789abcdef"))

	flipped := bytes.Clone(env)
	flipped[len(flipped)-1] ^= 1
	v2 := bytes.Clone(env)
	v2[0] = 2

	for name, tc := range map[string]struct {
		s   *sealer
		kid string
		env []byte
	}{
		"wrong secret":  {wrong, "kid-1", env},
		"other kid":     {s, "kid-2", env},
		"tampered":      {s, "kid-1", flipped},
		"truncated":     {s, "kid-1", env[:headerSizeV1+4]},
		"empty":         {s, "kid-1", nil},
		"version 2":     {s, "kid-1", v2},
		"only a header": {s, "kid-1", env[:headerSizeV1]},
	} {
		pt, err := tc.s.open(tc.kid, tc.env)
		if !errors.Is(err, ErrSealed) || pt != nil {
			t.Errorf("%s: open = %q, %v; want ErrSealed", name, pt, err)
		}
	}
	if _, err := s.open("kid-1", v2); !strings.Contains(err.Error(), "version 2") {
		t.Errorf("unknown version error does not name it: %v", err)
	}
}

// golden is a sealed envelope written by an earlier build. It must keep
// opening: changing the derivation, the AAD or the layout without a new
// envelope version would lock every deployment out of its keys.
type golden struct {
	Secret       string `json:"secret"`
	KID          string `json:"kid"`
	Envelope     string `json:"envelope"`     // base64url
	PKCS8SHA256  string `json:"pkcs8_sha256"` // hex digest of the opened plaintext
	Alg          string `json:"alg"`
	PublicKeyPEM string `json:"public_key_pem"`
}

func TestSealedGoldenStillOpens(t *testing.T) {
	path := filepath.Join("testdata", "sealed_v1.json")
	if *updateGolden {
		writeGolden(t, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	s, err := newSealer([]byte(g.Secret))
	if err != nil {
		t.Fatal(err)
	}
	env, err := base64.RawURLEncoding.DecodeString(g.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := s.open(g.KID, env)
	if err != nil {
		t.Fatalf("golden envelope no longer opens: %v", err)
	}
	if sum := sha256.Sum256(pt); hex.EncodeToString(sum[:]) != g.PKCS8SHA256 {
		t.Fatal("golden envelope opens to different bytes")
	}

	// And the whole record loads through a Manager.
	store := &fakeStore{keys: []storage.SigningKey{goldenRecord(g, env)}}
	m, err := New(store, []byte(g.Secret), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Load(t.Context()); err != nil {
		t.Fatalf("Load golden record: %v", err)
	}
	if kid := mustSigner(t, m, g.Alg); kid != g.KID {
		t.Fatalf("signer %s, want %s", kid, g.KID)
	}
}

func goldenRecord(g golden, env []byte) storage.SigningKey {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return storage.SigningKey{
		ID:                  g.KID,
		Alg:                 g.Alg,
		PrivateKeyEncrypted: env,
		PublicKeyPEM:        []byte(g.PublicKeyPEM),
		CreatedAt:           created,
		ActiveAt:            created,
	}
}

func writeGolden(t *testing.T, path string) {
	t.Helper()
	g := golden{Secret: "golden-test-secret-not-used-anywhere-else", KID: "golden-kid-v1", Alg: ES256}
	s, err := newSealer([]byte(g.Secret))
	if err != nil {
		t.Fatal(err)
	}
	k, err := Generate(ES256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.seal(g.KID, der)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := publicKeyPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	g.Envelope = base64.RawURLEncoding.EncodeToString(env)
	g.PKCS8SHA256 = hex.EncodeToString(sum[:])
	g.PublicKeyPEM = string(pemBytes)
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSealerLayout: a Sealer's output is nonce || AES-256-GCM(ciphertext,
// tag) under HKDF-SHA256(secret, no salt, purpose), the layout the refresh
// retry window kept before it used keys.Sealer: values sealed by either open
// with the other.
func TestSealerLayout(t *testing.T) {
	const purpose = "authd refresh retry v1"
	k := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, testSecret, nil, []byte(purpose)), k); err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(k)
	plain, _ := cipher.NewGCM(block)
	s, err := NewSealer(testSecret, purpose)
	if err != nil {
		t.Fatal(err)
	}
	msg, ad := []byte(`{"access_token":"x"}`), []byte("grant.1.mac")

	sealed, err := s.Seal(msg, ad)
	if err != nil {
		t.Fatal(err)
	}
	n := plain.NonceSize()
	if got, err := plain.Open(nil, sealed[:n], sealed[n:], ad); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("plain AES-GCM open of a Sealer's value: %q, %v", got, err)
	}
	nonce := make([]byte, n)
	byHand := plain.Seal(nonce, nonce, msg, ad)
	if got, err := s.Open(byHand, ad); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Sealer open of a plain AES-GCM value: %q, %v", got, err)
	}
	if _, err := s.Open(byHand, []byte("other")); !errors.Is(err, ErrSealed) {
		t.Fatalf("open with other additional data: %v, want ErrSealed", err)
	}
	if _, err := s.Open(byHand[:n], ad); !errors.Is(err, ErrSealed) {
		t.Fatalf("open of a bare nonce: %v, want ErrSealed", err)
	}
}
