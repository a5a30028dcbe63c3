package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

const (
	apiA = "https://a.api.example/"
	apiB = "https://b.api.example/"
	apiC = "https://c.api.example/"
)

func TestResourcesAsAudience(t *testing.T) {
	form := url.Values{"resource": {apiA, apiB}, "audience": {"smuggled"}}
	if err := resourcesAsAudience(form); err != nil {
		t.Fatal(err)
	}
	if got := fosite.GetAudiences(form); !slices.Equal(got, []string{apiA, apiB}) {
		t.Errorf("fosite reads audience %v, want the resources", got)
	}
	form = url.Values{"audience": {apiA}}
	if err := resourcesAsAudience(form); err != nil || form.Has("audience") {
		t.Errorf("a client's own audience parameter is kept: %v %v", form, err)
	}
	many := make([]string, maxResources+1)
	for i := range many {
		many[i] = apiA
	}
	for name, rs := range map[string][]string{
		"relative": {"api"}, "fragment": {apiA + "#x"}, "space-joined": {apiA + " " + apiB}, "empty": {""},
		"one of two bad": {apiA, "/b"}, "too many": many,
	} {
		form := url.Values{"resource": rs}
		wantRFC6749(t, resourcesAsAudience(form), "invalid_target", http.StatusBadRequest)
		if form.Has("audience") {
			t.Errorf("%s: refused resources handed to fosite: %v", name, form)
		}
	}
}

func TestResourceMatching(t *testing.T) {
	if err := resourceMatching([]string{apiA, apiB}, []string{apiB}); err != nil {
		t.Errorf("registered resource refused: %v", err)
	}
	if err := resourceMatching(nil, nil); err != nil {
		t.Errorf("no resource refused: %v", err)
	}
	// Exact: no prefix matching (fosite's default strategy would allow a
	// path below a registered URI), no scheme or host variants.
	for _, n := range []string{apiA + "v1", "http://a.api.example/", "https://A.api.example/", apiC} {
		wantRFC6749(t, resourceMatching([]string{apiA}, []string{n}), "invalid_target", http.StatusBadRequest)
	}
}

func TestTokenAudience(t *testing.T) {
	allowed := []string{apiA, apiB, apiC}
	cases := []struct {
		name                      string
		cc                        bool
		requested, grant, allowed []string
		want                      []string // nil with bad: invalid_target
		bad                       bool
	}{
		{name: "no resources anywhere", allowed: allowed},
		{name: "the grant's resources", grant: []string{apiA, apiB}, allowed: allowed, want: []string{apiA, apiB}},
		{name: "narrowed", requested: []string{apiB}, grant: []string{apiA, apiB}, allowed: allowed, want: []string{apiB}},
		{name: "same set", requested: []string{apiB, apiA}, grant: []string{apiA, apiB}, allowed: allowed, want: []string{apiB, apiA}},
		{name: "widened", requested: []string{apiA, apiC}, grant: []string{apiA, apiB}, allowed: allowed, bad: true},
		{name: "grant without resources", requested: []string{apiA}, allowed: allowed, bad: true},
		{name: "no longer registered", grant: []string{apiA, apiB}, allowed: []string{apiA}, bad: true},
		{name: "narrowed, a resource of the grant no longer registered", requested: []string{apiA}, grant: []string{apiA, apiB}, allowed: []string{apiA}, bad: true},
		{name: "client_credentials", cc: true, requested: []string{apiC}, allowed: allowed, want: []string{apiC}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tokenAudience(tc.cc, tc.requested, tc.grant, tc.allowed)
			if tc.bad {
				wantRFC6749(t, err, "invalid_target", http.StatusBadRequest)
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("= %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// bindAudience over fosite's access request: the decided audience is set,
// and what fosite's code grant grants later can only be of it.
func TestBindAudience(t *testing.T) {
	c, err := fositestore.NewClient(storage.Client{ID: "app", Audience: []string{apiA, apiB}})
	if err != nil {
		t.Fatal(err)
	}
	ar := fosite.NewAccessRequest(NewSession())
	ar.Client, ar.GrantTypes = c, fosite.Arguments{"authorization_code"}
	ar.SetRequestedAudience(fosite.Arguments{apiA, apiB})
	bound, err := bindAudience(ar, url.Values{"audience": {apiB}})
	if err != nil {
		t.Fatal(err)
	}
	bound.GrantAudience(apiA) // as fosite's code grant does from the authorization
	bound.GrantAudience(apiB)
	if got := bound.GetGrantedAudience(); !slices.Equal(got, []string{apiB}) {
		t.Errorf("granted %v, want only %s", got, apiB)
	}
	if got := bound.Sanitize(nil).GetGrantedAudience(); !slices.Equal(got, []string{apiB}) {
		t.Errorf("stored request's audience %v", got)
	}
	if got := bound.GetRequestedAudience(); !slices.Equal(got, []string{apiA, apiB}) {
		t.Errorf("the grant's resources changed: %v", got)
	}
	_, err = bindAudience(ar, url.Values{"audience": {apiC}})
	wantRFC6749(t, err, "invalid_target", http.StatusBadRequest)
}

func TestVisibleTo(t *testing.T) {
	rs := &fositestore.Client{Client: storage.Client{ID: "rs-a", Resource: apiA}}
	plain := &fositestore.Client{Client: storage.Client{ID: "rs"}}
	cases := []struct {
		name   string
		caller *fositestore.Client
		use    fosite.TokenUse
		holder string
		aud    []string
		want   bool
	}{
		{"RS, its resource", rs, fosite.AccessToken, "app", []string{apiB, apiA}, true},
		{"RS, another resource", rs, fosite.AccessToken, "app", []string{apiB}, false},
		{"RS, no audience", rs, fosite.AccessToken, "app", nil, false},
		{"RS, its own token without its resource", rs, fosite.AccessToken, "rs-a", nil, false},
		{"plain introspector, any access token", plain, fosite.AccessToken, "app", []string{apiB}, true},
		{"plain introspector, no audience", plain, fosite.AccessToken, "app", nil, true},
		{"refresh token of another client", plain, fosite.RefreshToken, "app", nil, false},
		{"refresh token for its resource, another client", rs, fosite.RefreshToken, "app", []string{apiA}, false},
		{"own refresh token", plain, fosite.RefreshToken, "rs", nil, true},
	}
	for _, tc := range cases {
		if got := visibleTo(tc.caller, tc.use, tc.holder, tc.aud); got != tc.want {
			t.Errorf("%s: visible %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The protocol forms accept resource repeated (RFC 8707 §2) and nothing
// else, and check every value.
func TestCheckParamsResource(t *testing.T) {
	if err := checkParams(url.Values{"resource": {apiA, apiB}}); err != nil {
		t.Errorf("repeated resource refused: %v", err)
	}
	wantRFC6749(t, checkParams(url.Values{"scope": {"a", "b"}}), "invalid_request", http.StatusBadRequest)
	wantRFC6749(t, checkParams(url.Values{"resource": {apiA, strings.Repeat("x", maxParamBytes+1)}}), "invalid_request", http.StatusBadRequest)
	wantRFC6749(t, checkParams(url.Values{"resource": {apiA, "\xff"}}), "invalid_request", http.StatusBadRequest)
	r := httptest.NewRequest(http.MethodGet, "/oauth2/auth?resource="+url.QueryEscape(apiA)+"&resource="+url.QueryEscape(apiB), nil)
	if msg, ok := parseAuthorizeForm(httptest.NewRecorder(), r, 1<<10); !ok {
		t.Errorf("authorization request with two resources refused: %s", msg)
	}
}
