package ratelimit_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authd/authd/ratelimit"
)

// RequestClientID names the client the limiter counts: the Basic id
// (form-decoded), else the parsed form's client_id. It never reads the
// body itself. No Redis needed.
func TestRequestClientID(t *testing.T) {
	cases := []struct {
		name   string
		target string
		body   string
		parse  bool   // the route parsed the form first
		basic  string // Basic user part, as sent
		want   string
	}{
		{name: "Basic", basic: "rs", want: "rs"},
		{name: "Basic form-encoded", basic: "a%3Ab+c%25", want: "a:b c%"},
		{name: "Basic undecodable", basic: "%zz", want: "%zz"},
		{name: "Basic beats the form", basic: "rs", body: "client_id=other", parse: true, want: "rs"},
		{name: "form client_id", body: "client_id=app", parse: true, want: "app"},
		{name: "form client_id decoded", body: "client_id=a%3Ab+c", parse: true, want: "a:b c"},
		{name: "unparsed form", body: "client_id=app", want: ""},
		{name: "client_id in the query only", target: "/oauth2/token?client_id=q", parse: true, want: ""},
		{name: "nothing", parse: true, want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target
			if target == "" {
				target = "/oauth2/token"
			}
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.basic != "" {
				r.SetBasicAuth(tc.basic, "pw")
			}
			if tc.parse {
				if err := r.ParseForm(); err != nil {
					t.Fatal(err)
				}
			}
			if got := ratelimit.RequestClientID(r); got != tc.want {
				t.Fatalf("RequestClientID = %q, want %q", got, tc.want)
			}
			if !tc.parse {
				if rest, _ := io.ReadAll(r.Body); string(rest) != tc.body {
					t.Fatalf("the body was read: %q left of %q", rest, tc.body)
				}
			}
		})
	}
}
