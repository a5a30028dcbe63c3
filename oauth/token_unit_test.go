package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestCheckGrantType(t *testing.T) {
	cases := []struct {
		grantType string
		code      string // "": accepted
	}{
		{"", "invalid_request"},
		{"password", "unsupported_grant_type"},
		{"implicit", "unsupported_grant_type"},
		{"urn:ietf:params:oauth:grant-type:jwt-bearer", "unsupported_grant_type"},
		{"Authorization_Code", "unsupported_grant_type"},
		{"authorization_code", ""},
		{"refresh_token", ""},
		{"client_credentials", ""},
		{"urn:ietf:params:oauth:grant-type:device_code", ""},
	}
	for _, tc := range cases {
		t.Run("grant_type="+tc.grantType, func(t *testing.T) {
			form := url.Values{}
			if tc.grantType != "" {
				form.Set("grant_type", tc.grantType)
			}
			err := checkGrantType(form)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e := wantRFC6749(t, err, tc.code, http.StatusBadRequest)
			if tc.grantType == "" && !strings.Contains(e.HintField, "grant_type") {
				t.Fatalf("hint %q does not name grant_type", e.HintField)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		name, method, target, auth, contentType, body string
		want                                          string
	}{
		{name: "Bearer", auth: "Bearer tok", want: "tok"},
		{name: "bearer", auth: "bearer tok", want: "tok"},
		{name: "BEARER", auth: "BEARER tok", want: "tok"},
		{name: "surrounding spaces", auth: "Bearer  tok ", want: "tok"},
		{name: "empty Bearer", auth: "Bearer ", want: ""},
		{name: "Basic", auth: "Basic cnM6cHc=", want: ""},
		{name: "other scheme beats the body", method: http.MethodPost, auth: "DPoP tok",
			contentType: "application/x-www-form-urlencoded", body: "access_token=body", want: ""},
		{name: "form body", method: http.MethodPost, contentType: "application/x-www-form-urlencoded", body: "access_token=body", want: "body"},
		{name: "form body with charset", method: http.MethodPost, contentType: "application/x-www-form-urlencoded; charset=UTF-8",
			body: "access_token=body", want: "body"},
		{name: "header beats the body", method: http.MethodPost, auth: "Bearer hdr",
			contentType: "application/x-www-form-urlencoded", body: "access_token=body", want: "hdr"},
		{name: "JSON body", method: http.MethodPost, contentType: "application/json", body: `{"access_token":"body"}`, want: ""},
		{name: "query on GET", target: "/userinfo?access_token=q", want: ""},
		{name: "query on POST", method: http.MethodPost, target: "/userinfo?access_token=q",
			contentType: "application/x-www-form-urlencoded", body: "", want: ""},
		{name: "form body on PUT", method: http.MethodPut, contentType: "application/x-www-form-urlencoded", body: "access_token=body", want: ""},
		{name: "form body on GET", contentType: "application/x-www-form-urlencoded", body: "access_token=body", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method, target := tc.method, tc.target
			if method == "" {
				method = http.MethodGet
			}
			if target == "" {
				target = "/userinfo"
			}
			r := httptest.NewRequest(method, target, strings.NewReader(tc.body))
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			if got := bearerToken(r); got != tc.want {
				t.Fatalf("bearerToken = %q, want %q", got, tc.want)
			}
		})
	}
}
