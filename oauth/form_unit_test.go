package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ory/fosite"
)

func TestParseForm(t *testing.T) {
	const limit = 8 << 10
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name        string
		method      string
		target      string
		contentType string // "-": no header
		body        string
		limit       int64
		hint        string // "": accepted; else a fragment of the invalid_request hint
		want        url.Values
	}{
		{name: "form", body: "grant_type=client_credentials&scope=a+b",
			want: url.Values{"grant_type": {"client_credentials"}, "scope": {"a b"}}},
		{name: "form with charset", contentType: "application/x-www-form-urlencoded; charset=UTF-8", body: "token=t",
			want: url.Values{"token": {"t"}}},
		{name: "content type any case", contentType: "Application/X-WWW-Form-URLEncoded", body: "token=t",
			want: url.Values{"token": {"t"}}},
		{name: "json", contentType: "application/json", body: `{"token":"t"}`, hint: "x-www-form-urlencoded"},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", body: "--x--", hint: "x-www-form-urlencoded"},
		{name: "no content type", contentType: "-", body: "token=t", hint: "x-www-form-urlencoded"},
		{name: "body over the limit", body: "token=" + long(200), limit: 64, hint: "too large"},
		{name: "bad escape", body: "token=%zz", hint: "could not be parsed"},
		{name: "repeated in the body", body: "scope=a&scope=b", hint: `"scope" must not be repeated`},
		{name: "repeated across query and body", target: "/oauth2/token?token=a", body: "token=b", hint: "repeated"},
		{name: "invalid UTF-8 value", body: "token=%FF%FE", hint: "UTF-8"},
		{name: "invalid UTF-8 name", body: "%C3=x", hint: "UTF-8"},
		{name: "U+FFFD", body: "token=a%EF%BF%BDb", hint: "UTF-8"},
		{name: "valid non-ASCII", body: "state=%C3%A9t%C3%A9", want: url.Values{"state": {"été"}}},
		{name: "name of 64 bytes", body: long(64) + "=x", want: url.Values{long(64): {"x"}}},
		{name: "name of 65 bytes", body: long(65) + "=x", hint: "too long"},
		{name: "value of 4096 bytes", body: "token=" + long(maxParamBytes), want: url.Values{"token": {long(maxParamBytes)}}},
		{name: "value of 4097 bytes", body: "token=" + long(maxParamBytes+1), hint: "too long"},
		{name: "GET query", method: http.MethodGet, target: "/oauth2/token?token=q", contentType: "-",
			want: url.Values{"token": {"q"}}},
		{name: "GET repeated query", method: http.MethodGet, target: "/oauth2/token?a=1&a=2", contentType: "-", hint: "repeated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method, target, limitB := tc.method, tc.target, tc.limit
			if method == "" {
				method = http.MethodPost
			}
			if target == "" {
				target = "/oauth2/token"
			}
			if limitB == 0 {
				limitB = limit
			}
			r := httptest.NewRequest(method, target, strings.NewReader(tc.body))
			switch tc.contentType {
			case "":
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				r.Header.Set("Content-Type", tc.contentType)
			}
			err := parseForm(httptest.NewRecorder(), r, limitB)
			if tc.hint != "" {
				e := wantRFC6749(t, err, "invalid_request", http.StatusBadRequest)
				if !strings.Contains(e.HintField, tc.hint) {
					t.Fatalf("hint %q does not say %q", e.HintField, tc.hint)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseForm: %v", err)
			}
			if got := r.Form; !equalValues(got, tc.want) {
				t.Fatalf("form = %v, want %v", got, tc.want)
			}
		})
	}
}

func equalValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || len(v) != len(w) {
			return false
		}
		for i := range v {
			if v[i] != w[i] {
				return false
			}
		}
	}
	return true
}

func TestCheckParams(t *testing.T) {
	cases := []struct {
		name string
		form url.Values
		ok   bool
	}{
		{"empty", url.Values{}, true},
		{"one each", url.Values{"a": {"1"}, "b": {"2"}}, true},
		{"empty value", url.Values{"a": {""}}, true},
		{"repeated", url.Values{"a": {"1", "1"}}, false},
		{"raw invalid byte", url.Values{"a": {"\xff"}}, false},
		{"U+FFFD in name", url.Values{"\uFFFD": {"x"}}, false},
		{"long value", url.Values{"a": {strings.Repeat("x", maxParamBytes+1)}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkParams(tc.form)
			if tc.ok {
				if err != nil {
					t.Fatalf("checkParams: %v", err)
				}
				return
			}
			wantRFC6749(t, err, "invalid_request", http.StatusBadRequest)
		})
	}
}

// client_secret_post becomes HTTP Basic with both parts form-encoded
// (RFC 6749 §2.3.1), so fosite (which decodes them) sees the same id and
// secret; the secret leaves the form.
func TestSecretPostAsBasic(t *testing.T) {
	for _, cred := range []struct{ id, secret string }{
		{"rs", "s3cret"},
		{"with:colon", "se:cr:et"},
		{"per%cent", "100%"},
		{"a space", "a +plus"},
		{"ünï", "&=?#"},
	} {
		t.Run(cred.id, func(t *testing.T) {
			r := formRequest("/oauth2/introspect", url.Values{"client_id": {cred.id}, "client_secret": {cred.secret}, "token": {"t"}}.Encode())
			if err := parseForm(httptest.NewRecorder(), r, 1<<10); err != nil {
				t.Fatal(err)
			}
			id, secret, ok := r.BasicAuth()
			if !ok {
				t.Fatal("no Basic credentials")
			}
			if strings.Contains(id, ":") {
				t.Fatalf("Basic id %q is not form-encoded", id)
			}
			gotID, err1 := url.QueryUnescape(id)
			gotSecret, err2 := url.QueryUnescape(secret)
			if err1 != nil || err2 != nil || gotID != cred.id || gotSecret != cred.secret {
				t.Fatalf("Basic decodes to %q/%q (%v, %v), want %q/%q", gotID, gotSecret, err1, err2, cred.id, cred.secret)
			}
			if r.PostForm.Has("client_secret") || r.Form.Has("client_secret") {
				t.Fatal("client_secret left in the form")
			}
			if r.PostForm.Get("client_id") != cred.id || r.PostForm.Get("token") != "t" {
				t.Fatalf("form lost its other parameters: %v", r.PostForm)
			}
		})
	}
}

func TestSecretPostAsBasicNotApplied(t *testing.T) {
	cases := []struct {
		name, target, body string
		basic              bool // the request already carries Basic credentials
		wantErr            bool
		wantBasicID        string // "" : no Basic credentials afterwards
	}{
		{name: "Basic and client_secret_post", body: "client_id=a&client_secret=b", basic: true, wantErr: true},
		{name: "Basic and client_id only", body: "client_id=rs", basic: true, wantBasicID: "rs"},
		{name: "public client: client_id only", body: "client_id=app"},
		{name: "secret without id", body: "client_secret=b"},
		{name: "secret in the query string", target: "/oauth2/token?client_secret=b", body: "client_id=a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target
			if target == "" {
				target = "/oauth2/token"
			}
			r := formRequest(target, tc.body)
			if tc.basic {
				r.SetBasicAuth("rs", "pw")
			}
			err := parseForm(httptest.NewRecorder(), r, 1<<10)
			if tc.wantErr {
				e := wantRFC6749(t, err, "invalid_request", http.StatusBadRequest)
				if !strings.Contains(e.HintField, "exactly one") {
					t.Fatalf("hint %q", e.HintField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id, _, ok := r.BasicAuth()
			if tc.wantBasicID == "" && ok {
				t.Fatalf("Basic credentials %q appeared", id)
			}
			if tc.wantBasicID != "" && id != tc.wantBasicID {
				t.Fatalf("Basic id = %q, want %q", id, tc.wantBasicID)
			}
		})
	}
}

// The parsed middleware answers a refused form with the endpoint's writer
// and never runs the handler; an accepted form reaches the handler parsed.
func TestParsedMiddleware(t *testing.T) {
	s := serverWith(Config{MaxBodyBytes: 1 << 10}, nil)
	cases := []struct {
		name, contentType, body string
		refused                 bool
	}{
		{"accepted", "application/x-www-form-urlencoded", "token=t&client_id=rs&client_secret=pw", false},
		{"wrong content type", "text/plain", "token=t", true},
		{"repeated", "application/x-www-form-urlencoded", "token=a&token=b", true},
		{"too large", "application/x-www-form-urlencoded", "token=" + strings.Repeat("x", 2<<10), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var failed, handled int
			var failErr error
			fail := func(w http.ResponseWriter, _ *http.Request, err error) {
				failed++
				failErr = err
				w.WriteHeader(http.StatusTeapot)
			}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				handled++
				if r.PostForm.Get("token") != "t" {
					t.Errorf("handler got form %v", r.PostForm)
				}
				if id, _, ok := r.BasicAuth(); !ok || id != "rs" {
					t.Errorf("handler got no Basic credentials for rs")
				}
				w.WriteHeader(http.StatusNoContent)
			})
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.contentType)
			w := httptest.NewRecorder()
			s.parsed(fail, h).ServeHTTP(w, r)
			if tc.refused {
				if failed != 1 || handled != 0 || w.Code != http.StatusTeapot {
					t.Fatalf("fail ran %d times, handler %d times, status %d", failed, handled, w.Code)
				}
				wantRFC6749(t, failErr, fosite.ErrInvalidRequest.ErrorField, http.StatusBadRequest)
				return
			}
			if failed != 0 || handled != 1 || w.Code != http.StatusNoContent {
				t.Fatalf("fail ran %d times, handler %d times, status %d", failed, handled, w.Code)
			}
		})
	}
}
