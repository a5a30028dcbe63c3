package web

import (
	"strings"

	useragent "github.com/medama-io/go-useragent"
)

// uaParser is built once: it loads its token trie at construction.
var uaParser = useragent.NewParser()

// DeviceLabel turns a User-Agent header into a short label a person
// recognises, such as "Firefox on Linux" or "okhttp on Android". When the
// parser knows neither browser nor OS it falls back to the raw product token
// ("okhttp", "curl"), and to "Unknown device" for an empty header.
func DeviceLabel(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return "Unknown device"
	}
	a := uaParser.Parse(ua)
	browser, os := a.GetBrowser(), a.GetOS()
	if os == "" {
		os = commentOS(ua)
	}
	if browser == "" || browser == "Android Browser" && !strings.HasPrefix(ua, "Mozilla/") {
		browser = productToken(ua)
	}
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	case os != "":
		return os + " device"
	}
	return "Unknown device"
}

// productToken is the first product name of a User-Agent ("okhttp" of
// "okhttp/4.9.3"), bounded in length.
func productToken(ua string) string {
	tok := ua
	if i := strings.IndexAny(tok, "/ ("); i >= 0 {
		tok = tok[:i]
	}
	if len(tok) > 40 {
		tok = tok[:40]
	}
	return tok
}

// commentOS finds the platform in a non-browser agent's comment, as in
// "okhttp/4.9.3 (Linux; Android 13)", which the trie parser leaves alone.
func commentOS(ua string) string {
	i := strings.IndexByte(ua, '(')
	if i < 0 {
		return ""
	}
	c := ua[i:]
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iOS"}, {"iOS", "iOS"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "MacOS"}, {"Macintosh", "MacOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(c, o.token) {
			return o.name
		}
	}
	return ""
}
