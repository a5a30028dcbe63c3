package web

import (
	"net/url"
	"testing"
)

func TestFormActionSource(t *testing.T) {
	for _, c := range []struct {
		u    url.URL
		want string
	}{
		{url.URL{Scheme: "https", Host: "rp.example", Path: "/cb", RawQuery: "x=1"}, "https://rp.example"},
		{url.URL{Scheme: "http", Host: "127.0.0.1:53682", Path: "/cb"}, "http://127.0.0.1:53682"},
		{url.URL{Scheme: "HTTPS", Host: "rp.example:8443", Path: "/a/b"}, "https://rp.example:8443"},
		{url.URL{Scheme: "com.example.app", Path: "/oauth2/cb"}, "com.example.app:"},
		// A host that would smuggle a directive into the policy.
		{url.URL{Scheme: "https", Host: "rp.example; script-src *", Path: "/cb"}, "https:"},
		{url.URL{Scheme: "https", Host: "rp.example,'unsafe-inline'", Path: "/cb"}, "https:"},
	} {
		if got := formActionSource(&c.u); got != c.want {
			t.Errorf("formActionSource(%q) = %q, want %q", c.u.String(), got, c.want)
		}
	}
}
