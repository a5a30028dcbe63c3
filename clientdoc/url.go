package clientdoc

import (
	"errors"
	"net/url"
	"strings"
)

// maxURLLen bounds a Client Identifier URL (client ids are at most 255
// characters elsewhere in authd).
const maxURLLen = 255

// IsURL says whether id is meant as a Client Identifier URL: it starts with
// https:// (authd's own client ids never do). Whether it is a valid one is
// ValidateURL's verdict.
func IsURL(id string) bool { return strings.HasPrefix(id, "https://") }

// ValidateURL checks id against the draft's rules for a Client Identifier
// URL (§3): the https scheme, no userinfo, a path, no "." or ".." path
// segments, no fragment. The draft says a client SHOULD NOT use a query;
// authd refuses one. The URL must also be in the form Go writes it back
// (no needless escapes), so the URL fetched is exactly the client_id.
func ValidateURL(id string) error {
	if len(id) > maxURLLen {
		return errors.New("a Client Identifier URL is at most 255 characters")
	}
	u, err := url.Parse(id)
	switch {
	case err != nil:
		return errors.New("the client_id is not a URL")
	case u.Scheme != "https":
		return errors.New("a Client Identifier URL must use https")
	case u.User != nil || strings.Contains(u.Host, "@"):
		return errors.New("a Client Identifier URL must not contain userinfo")
	case u.Hostname() == "":
		return errors.New("a Client Identifier URL must have a host")
	case !ascii(u.Host):
		// Pages show the host: an internationalised name must come in its
		// ASCII (punycode) form, so look-alike letters cannot pass for
		// another host.
		return errors.New("a Client Identifier URL's host must be ASCII (punycode for an internationalised name)")
	case u.Path == "" || !strings.HasPrefix(u.Path, "/"):
		return errors.New("a Client Identifier URL must contain a path")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("authd does not accept a query in a Client Identifier URL")
	case u.Fragment != "" || strings.Contains(id, "#"):
		return errors.New("a Client Identifier URL must not contain a fragment")
	case dotSegment(u.Path) || dotSegment(u.EscapedPath()):
		return errors.New(`a Client Identifier URL must not contain "." or ".." path segments`)
	case u.String() != id:
		return errors.New("the Client Identifier URL is not in canonical form")
	}
	return nil
}

// dotSegment: the path has a "." or ".." segment (escaped ones too).
func dotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		s := strings.ReplaceAll(strings.ToLower(seg), "%2e", ".")
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

// Host is the host of a Client Identifier URL as the consent page shows it
// (with its port when it has one); "" when id is not a URL.
func Host(id string) string {
	u, err := url.Parse(id)
	if err != nil {
		return ""
	}
	return u.Host
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
