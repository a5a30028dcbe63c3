package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"
)

// MinSecretLen is the minimum length of the system secret given to New.
const MinSecretLen = 32

// hkdfInfo binds the derived key to this purpose; bump the version (and the
// envelope version) if the derivation ever changes.
const hkdfInfo = "authd signing keys v1"

// Envelope layout, version 1:
//
//	[0]      version (0x01)
//	[1:13]   random 96-bit GCM nonce
//	[13:]    AES-256-GCM ciphertext of the PKCS#8 DER, then the 16-byte tag
//
// The additional authenticated data is the kid, so a sealed key cannot be
// moved to another record.
const (
	envelopeV1   byte = 0x01
	nonceSize         = 12
	headerSizeV1      = 1 + nonceSize
)

// ErrSealed is returned when a sealed private key cannot be opened: wrong
// system secret, tampered or truncated bytes, a record whose kid changed, or
// an unknown envelope version. The message never contains key material.
var ErrSealed = errors.New("keys: cannot open sealed private key")

// sealer encrypts private keys at rest. It holds only the derived AEAD, never
// the system secret.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("keys: system secret must be at least %d bytes, got %d", MinSecretLen, len(secret))
	}
	k := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(hkdfInfo)), k); err != nil {
		return nil, fmt.Errorf("keys: derive sealing key: %w", err)
	}
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("keys: sealing cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: sealing cipher: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts plaintext (a PKCS#8 DER) for the key kid.
func (s *sealer) seal(kid string, plaintext []byte) ([]byte, error) {
	out := make([]byte, headerSizeV1, headerSizeV1+len(plaintext)+s.aead.Overhead())
	out[0] = envelopeV1
	if _, err := rand.Read(out[1:headerSizeV1]); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:headerSizeV1], plaintext, []byte(kid)), nil
}

// open decrypts an envelope produced by seal for the key kid. Every failure
// is ErrSealed, without detail that could help an attacker or leak bytes.
func (s *sealer) open(kid string, envelope []byte) ([]byte, error) {
	if len(envelope) == 0 {
		return nil, ErrSealed
	}
	if v := envelope[0]; v != envelopeV1 {
		return nil, fmt.Errorf("%w: unknown envelope version %d", ErrSealed, v)
	}
	if len(envelope) < headerSizeV1+s.aead.Overhead() {
		return nil, ErrSealed
	}
	pt, err := s.aead.Open(nil, envelope[1:headerSizeV1], envelope[headerSizeV1:], []byte(kid))
	if err != nil {
		return nil, ErrSealed
	}
	return pt, nil
}
