package storage

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanText(t *testing.T) {
	long := strings.Repeat("a", 511) + "é tail"
	for _, c := range []struct{ in, want string }{
		{"Mozilla/5.0 (X11)", "Mozilla/5.0 (X11)"},
		{"bad \xff\xfe end", "bad \uFFFD\uFFFD end"},
		{"nul\x00 bell\x07 del\x7f c1\u0085", "nul bell del c1"},
		{"tab\tcr\rlf\n", "tab cr lf "},
		{"bidi \u202eevil\u2066", "bidi evil"},
		{"añb", "añb"},
		{long, strings.Repeat("a", 511)}, // the cut does not split é
	} {
		got := CleanText(c.in, 512)
		if got != c.want || !utf8.ValidString(got) || len(got) > 512 {
			t.Errorf("CleanText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := CleanText(strings.Repeat("\xff", 600), 512); !utf8.ValidString(got) || len(got) > 512 {
		t.Errorf("600 invalid bytes: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	m := RequestMeta{IP: strings.Repeat("1", 100), UserAgent: "x\xff"}.Clean()
	if len(m.IP) != MaxIPBytes || m.UserAgent != "x\uFFFD" {
		t.Errorf("RequestMeta.Clean = %+v", m)
	}
}

func BenchmarkCleanTextPlain(b *testing.B) {
	ua := "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = CleanText(ua, MaxUserAgentBytes)
	}
}
