package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCORSWebOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example/cb?x=1":     "https://app.example",
		"https://app.example:443/cb":     "https://app.example",
		"http://127.0.0.1:53682/cb":      "http://127.0.0.1:53682",
		"http://localhost:80/":           "http://localhost",
		"https://app.example:8443":       "https://app.example:8443",
		"http://[::1]:3000/cb":           "http://[::1]:3000",
		"com.example.app:/oauth2/cb":     "",
		"urn:ietf:wg:oauth:2.0:oob":      "",
		"ftp://files.example/":           "",
		"":                               "",
		"https://":                       "",
		"https://user@app.example/x#frg": "https://app.example",
	} {
		if got := WebOrigin(in); got != want {
			t.Errorf("WebOrigin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCORSRequestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.example":        "https://app.example",
		"HTTPS://APP.EXAMPLE:443":    "https://app.example",
		"null":                       "",
		"":                           "",
		"https://app.example/path":   "",
		"https://app.example?q":      "",
		"https://u@app.example":      "",
		"chrome-extension://abcdefg": "",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if in != "" {
			r.Header.Set("Origin", in)
		}
		if got := RequestOrigin(r); got != want {
			t.Errorf("RequestOrigin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	do := func(h http.HandlerFunc, origin, method string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, "/oauth2/token", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if method != "" {
			r.Header.Set("Access-Control-Request-Method", method)
		}
		w := httptest.NewRecorder()
		h(w, r)
		return w
	}
	w := do(Preflight("POST", false), "https://any.example", "POST")
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "https://any.example" ||
		w.Header().Get("Access-Control-Allow-Methods") != "POST" || w.Header().Get("Access-Control-Allow-Headers") != CORSAllowHeaders ||
		w.Header().Get("Access-Control-Max-Age") != CORSMaxAge || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %d %v", w.Code, w.Header())
	}
	if !strings.Contains(w.Header().Get("Vary"), "Origin") {
		t.Errorf("preflight without Vary: Origin: %v", w.Header())
	}
	if got := do(Preflight("GET, HEAD", true), "https://any.example", "GET").Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("public preflight: Access-Control-Allow-Origin %q, want *", got)
	}
	for _, c := range [][2]string{{"", "POST"}, {"null", "POST"}, {"https://any.example", ""}} {
		if w := do(Preflight("POST", false), c[0], c[1]); w.Header().Get("Access-Control-Allow-Origin") != "" || w.Code != http.StatusNoContent {
			t.Errorf("OPTIONS origin %q method %q: %d %v, want 204 without CORS", c[0], c[1], w.Code, w.Header())
		}
	}
}
