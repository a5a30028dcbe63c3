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

// ErrSealed is returned when sealed bytes cannot be opened: wrong system
// secret, tampered or truncated bytes, other additional data (a record whose
// kid changed), or an unknown envelope version. The message never contains
// key material.
var ErrSealed = errors.New("keys: cannot open sealed data")

// Sealer encrypts small values at rest with AES-256-GCM under a key derived
// from the system secret with HKDF-SHA256 (no salt) for one purpose, so one
// secret serves several purposes with independent keys. It holds only the
// derived AEAD, never the secret.
//
// A sealed value is laid out as
//
//	[0:12]   random 96-bit GCM nonce
//	[12:]    AES-256-GCM ciphertext, then the 16-byte tag
//
// and is bound to the additional data given to Seal: Open with any other
// fails. The signing keys (purpose "authd signing keys v1", additional data
// the kid, behind a version byte) and the refresh retry window's kept
// responses (oauth: "authd refresh retry v1", additional data the refresh
// token's signature) are sealed with it.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the sealing key for purpose from secret.
func NewSealer(secret []byte, purpose string) (*Sealer, error) {
	k := make([]byte, 32)
	defer clear(k)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(purpose)), k); err != nil {
		return nil, fmt.Errorf("keys: derive sealing key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("keys: sealing cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: sealing cipher: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to ad.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	return s.appendSeal(nil, plaintext, ad)
}

// appendSeal appends the sealed plaintext to dst.
func (s *Sealer) appendSeal(dst, plaintext, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	out := make([]byte, len(dst)+n, len(dst)+n+len(plaintext)+s.aead.Overhead())
	copy(out, dst)
	nonce := out[len(dst):]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	return s.aead.Seal(out, nonce, plaintext, ad), nil
}

// Open decrypts what Seal sealed with the same ad. Every failure is
// ErrSealed, without detail that could help an attacker or leak bytes.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrSealed
	}
	pt, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrSealed
	}
	return pt, nil
}

// hkdfInfo is the signing keys' purpose; bump the version (and the envelope
// version) if the derivation ever changes.
const hkdfInfo = "authd signing keys v1"

// Private-key envelope layout, version 1: a version byte, then a Sealer's
// sealed value (nonce, ciphertext of the PKCS#8 DER, tag):
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

// sealer seals private keys at rest in the versioned envelope.
type sealer struct {
	s *Sealer
}

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("keys: system secret must be at least %d bytes, got %d", MinSecretLen, len(secret))
	}
	s, err := NewSealer(secret, hkdfInfo)
	if err != nil {
		return nil, err
	}
	return &sealer{s: s}, nil
}

// seal encrypts plaintext (a PKCS#8 DER) for the key kid.
func (s *sealer) seal(kid string, plaintext []byte) ([]byte, error) {
	return s.s.appendSeal([]byte{envelopeV1}, plaintext, []byte(kid))
}

// open decrypts an envelope produced by seal for the key kid.
func (s *sealer) open(kid string, envelope []byte) ([]byte, error) {
	if len(envelope) == 0 {
		return nil, ErrSealed
	}
	if v := envelope[0]; v != envelopeV1 {
		return nil, fmt.Errorf("%w: unknown envelope version %d", ErrSealed, v)
	}
	return s.s.Open(envelope[1:], []byte(kid))
}
