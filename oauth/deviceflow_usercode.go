package oauth

import (
	"crypto/rand"
	"strings"
)

// User codes (RFC 8628 §6.1): 8 characters from an alphabet of 20
// consonants without look-alikes or vowels (no words can be spelt), shown as
// XXXX-XXXX. 20^8 ≈ 2.6e10 codes; with the verification page throttling
// guesses per IP and per login session, and codes living minutes, guessing
// one is impractical.
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8
)

// newUserCode returns a random normalised user code (no dash).
func newUserCode() (string, error) {
	out := make([]byte, 0, userCodeLen)
	buf := make([]byte, 16)
	for len(out) < userCodeLen {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// Rejection sampling: 240 is the largest multiple of 20
			// not above 256, so every letter is equally likely.
			if b < 240 && len(out) < userCodeLen {
				out = append(out, userCodeAlphabet[int(b)%len(userCodeAlphabet)])
			}
		}
	}
	return string(out), nil
}

// normalizeUserCode turns what a person typed into the stored form: upper
// case, without the dash and without spaces. It reports false for anything
// that cannot be a user code (wrong length or characters), so such input
// never reaches storage.
func normalizeUserCode(in string) (string, bool) {
	if len(in) > 32 {
		return "", false
	}
	var b strings.Builder
	for _, c := range in {
		switch {
		case c == '-' || c == ' ' || c == '\t':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		if c > 'Z' || !strings.ContainsRune(userCodeAlphabet, c) {
			return "", false
		}
		b.WriteRune(c)
	}
	if b.Len() != userCodeLen {
		return "", false
	}
	return b.String(), true
}

// formatUserCode shows a normalised user code as XXXX-XXXX.
func formatUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}
