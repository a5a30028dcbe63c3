package oauth

import (
	"strings"
	"testing"
)

func TestNormalizeUserCode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"BCDF-GHJK", "BCDFGHJK", true},
		{"bcdf-ghjk", "BCDFGHJK", true},
		{"bcdfghjk", "BCDFGHJK", true},
		{"BcDf-gHjK", "BCDFGHJK", true},
		{"  bcdf ghjk ", "BCDFGHJK", true},
		{"bcdf--ghjk", "BCDFGHJK", true},
		{"", "", false},
		{"BCDF-GHJ", "", false},   // too short
		{"BCDF-GHJKL", "", false}, // too long
		{"ABCD-EFGH", "", false},  // vowels are not in the alphabet
		{"BCDF-GHJ1", "", false},  // digits neither
		{"BCDF_GHJK", "", false},  // only the dash separates
		{"ḂCDF-GHJK", "", false},  // non-ASCII
		{strings.Repeat("B", 40), "", false},
		{"bcdf\x00ghjk", "", false},
	} {
		got, ok := normalizeUserCode(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("normalizeUserCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNewUserCode(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for i := 0; i < 2000; i++ {
		c, err := newUserCode()
		if err != nil {
			t.Fatal(err)
		}
		n, ok := normalizeUserCode(c)
		if !ok || n != c {
			t.Fatalf("newUserCode() = %q is not normalised", c)
		}
		if n2, ok := normalizeUserCode(strings.ToLower(formatUserCode(c))); !ok || n2 != c {
			t.Fatalf("formatted %q does not normalise back", formatUserCode(c))
		}
		seen[c] = true
		for _, r := range c {
			counts[r]++
		}
	}
	if len(seen) < 1999 {
		t.Errorf("only %d distinct codes in 2000", len(seen))
	}
	if len(counts) != len(userCodeAlphabet) {
		t.Errorf("used %d letters, want all %d", len(counts), len(userCodeAlphabet))
	}
	if got := formatUserCode("BCDFGHJK"); got != "BCDF-GHJK" {
		t.Errorf("formatUserCode = %q", got)
	}
}
