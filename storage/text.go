package storage

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on the request strings a grant records (CleanText).
const (
	MaxUserAgentBytes = 512
	MaxIPBytes        = 64
)

// CleanText makes a string that came from a request (a User-Agent, a client
// address) safe to store and to show: valid UTF-8 (each invalid byte becomes
// U+FFFD), no control characters (tab, CR and LF become a space, the others,
// NUL included, are dropped), no bidirectional formatting characters (they
// would reorder what the devices page shows), and at most maxBytes bytes,
// cut on a character boundary. Postgres refuses text that is not valid
// UTF-8 or holds NUL, and one such value fails the whole statement it is
// in; every string authd stores from a request goes through here.
func CleanText(s string, maxBytes int) string {
	if len(s) <= maxBytes && plainASCII(s) {
		return s // the common case: nothing to clean, no allocation
	}
	var b strings.Builder
	for _, r := range s { // an invalid byte ranges as utf8.RuneError (U+FFFD)
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			r = ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			continue
		}
		if b.Len()+utf8.RuneLen(r) > maxBytes {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// plainASCII: only printable ASCII.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Clean returns m with both strings cleaned (CleanText) and bounded.
func (m RequestMeta) Clean() RequestMeta {
	return RequestMeta{IP: CleanText(m.IP, MaxIPBytes), UserAgent: CleanText(m.UserAgent, MaxUserAgentBytes)}
}
