package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// readmeProse is README.md's lines with its fenced code blocks blanked (a
// `#` comment in a shell example is not a heading).
func readmeProse(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	fenced := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			l = ""
		}
		if fenced {
			l = ""
		}
		lines = append(lines, l)
	}
	return lines
}

// headingSlug is GitHub's anchor for a heading: lower case, punctuation but
// '-' and '_' dropped, spaces turned into '-'.
func headingSlug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestREADMEAnchors: every intra-document link of the README, [text](#a),
// points at one of its headings.
func TestREADMEAnchors(t *testing.T) {
	lines := readmeProse(t)
	heading := regexp.MustCompile(`^#{1,6}\s+(.+)$`)
	slugs := map[string]bool{}
	for _, l := range lines {
		if m := heading.FindStringSubmatch(l); m != nil {
			s := headingSlug(m[1])
			for i := 1; slugs[s]; i++ { // GitHub numbers repeated headings
				s = headingSlug(m[1]) + "-" + string(rune('0'+i))
			}
			slugs[s] = true
		}
	}
	if len(slugs) < 10 {
		t.Fatalf("found only %d headings: %v", len(slugs), slugs)
	}
	links := regexp.MustCompile(`\]\(#([^)\s]+)\)`)
	n := 0
	for i, l := range lines {
		for _, m := range links.FindAllStringSubmatch(l, -1) {
			n++
			if !slugs[m[1]] {
				t.Errorf("README.md:%d: link to #%s, which is no heading", i+1, m[1])
			}
		}
	}
	if n == 0 {
		t.Fatal("no intra-document link found")
	}
}

// TestREADMECitesRealTests: every test file (`x_test.go`) and test or
// benchmark function (TestX, BenchmarkX) the README names exists in the
// repository, so the README never points at a proof that is gone.
func TestREADMECitesRealTests(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	var src strings.Builder
	err = filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && p != "../..") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, "_test.go") {
			files[d.Name()] = true
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			src.Write(c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readme, all := string(b), src.String()
	for _, f := range regexp.MustCompile(`\b[a-z0-9]+(?:_[a-z0-9]+)*_test\.go\b`).FindAllString(readme, -1) {
		if !files[f] {
			t.Errorf("README names %s: no such test file", f)
		}
	}
	for _, name := range regexp.MustCompile(`\b(?:Test|Benchmark)[A-Z][A-Za-z0-9]*`).FindAllString(readme, -1) {
		if !strings.Contains(all, "func "+name+"(") {
			t.Errorf("README names %s: no such test function", name)
		}
	}
}
