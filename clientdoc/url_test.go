package clientdoc

import (
	"strings"
	"testing"
)

// TestValidateURL: the draft's Client Identifier URL rules (§3), plus
// authd's: no query, canonical form, at most 255 characters.
func TestValidateURL(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want string // "" valid, else in the error
	}{
		{"https://app.example.com/client.json", ""},
		{"https://app.example.com:8443/oauth/client", ""},
		{"https://127.0.0.1:9999/client.json", ""},
		{"https://app.example.com/", ""},
		{"http://app.example.com/client.json", "https"},
		{"https://app.example.com", "path"},
		{"https://user@app.example.com/c", "userinfo"},
		{"https://user:pw@app.example.com/c", "userinfo"},
		{"https://app.example.com/c?x=1", "query"},
		{"https://app.example.com/c?", "query"},
		{"https://app.example.com/c#frag", "fragment"},
		{"https://app.example.com/c#", "fragment"},
		{"https://app.example.com/a/../c", `".."`},
		{"https://app.example.com/a/./c", `"."`},
		{"https://app.example.com/a/%2e%2E/c", `".."`},
		{"https:///c", "host"},
		{"HTTPS://app.example.com/c", "canonical"},
		{"https://app.example.com/" + strings.Repeat("a", 250), "255"},
		{"not a url", "https"},
		{"https://аpple.com/client.json", "ASCII"},
		{"https://xn--pple-43d.com/client.json", ""},
	} {
		err := ValidateURL(tc.id)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.id, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error mentioning %q", tc.id, err, tc.want)
		}
	}
	if !IsURL("https://x.example/c") || IsURL("webapp") || IsURL("http://x.example/c") {
		t.Error("IsURL")
	}
	if h := Host("https://app.example.com:8443/c"); h != "app.example.com:8443" {
		t.Errorf("Host = %q", h)
	}
}
