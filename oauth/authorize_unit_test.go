package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/keys"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

var stepNames = map[step]string{
	stepContinue: "continue", stepSignIn: "sign in", stepLoginRequired: "login_required", stepConsent: "consent",
	stepConsentRequired: "consent_required", stepDenied: "denied", stepRemember: "remember", stepIssue: "issue",
}

// name names a step in failure messages (a test helper, not a method, so
// that step may get a String of its own).
func stepName(s step) string { return stepNames[s] }

func TestSignInStep(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	stale, fresh := now.Add(-2*time.Minute), now.Add(-10*time.Second)
	none := int64(-1)
	cases := []struct {
		name     string
		signedIn bool
		authTime time.Time
		prompt   []string
		// carried: the request came back from a page rendered for it,
		// first received at requestedAt (else now).
		carried     bool
		requestedAt time.Time
		maxAge      int64
		otherUser   bool
		want        step
	}{
		{"not signed in", false, time.Time{}, nil, false, now, none, false, stepSignIn},
		{"signed in", true, fresh, nil, false, now, none, false, stepContinue},
		{"signed in long ago, no prompt", true, now.Add(-48 * time.Hour), nil, false, now, none, false, stepContinue},
		{"prompt=login, stale sign-in", true, stale, []string{"login"}, false, now, none, false, stepSignIn},
		// Was stepContinue (freshLoginWindow): a sign-in 10 s before the
		// request is not one made for it (issue 13).
		{"prompt=login, fresh sign-in", true, fresh, []string{"login"}, false, now, none, false, stepSignIn},
		{"prompt=login, signed in for this request", true, now, []string{"login"}, true, fresh, none, false, stepContinue},
		{"prompt=login, signed in before the carried request", true, stale, []string{"login"}, true, fresh, none, false, stepSignIn},
		{"prompt=login, same time but not carried", true, now, []string{"login"}, false, now, none, false, stepSignIn},
		// The decision POST carries the request time of before its sign-in.
		{"prompt=login at the decision POST", true, stale, []string{"login"}, true, stale, none, false, stepContinue},
		{"prompt=login at the decision POST, not signed in", false, time.Time{}, []string{"login"}, true, stale, none, false, stepSignIn},
		{"not signed in at the decision POST", false, time.Time{}, nil, true, stale, none, false, stepSignIn},
		{"prompt=none, not signed in", false, time.Time{}, []string{"none"}, false, now, none, false, stepLoginRequired},
		{"prompt=none, signed in", true, stale, []string{"none"}, false, now, none, false, stepContinue},
		{"prompt=none login, stale", true, stale, []string{"none", "login"}, false, now, none, false, stepLoginRequired},
		{"prompt=login none, stale", true, stale, []string{"login", "none"}, false, now, none, false, stepLoginRequired},
		// Was stepContinue (freshLoginWindow); authorize refuses the
		// combination as invalid_request before asking (promptProblem).
		{"prompt=none login, fresh", true, fresh, []string{"none", "login"}, false, now, none, false, stepLoginRequired},
		{"prompt=none login, not signed in", false, time.Time{}, []string{"none", "login"}, false, now, none, false, stepLoginRequired},
		{"prompt=consent, not signed in", false, time.Time{}, []string{"consent"}, false, now, none, false, stepSignIn},
		{"prompt=consent, stale", true, stale, []string{"consent"}, false, now, none, false, stepContinue},
		{"prompt=select_account, signed in", true, fresh, []string{"select_account"}, false, now, none, false, stepSignIn},
		{"max_age not passed", true, fresh, nil, false, now, 60, false, stepContinue},
		{"max_age exactly reached", true, now.Add(-time.Minute), nil, false, now, 60, false, stepContinue},
		{"max_age passed", true, now.Add(-61 * time.Second), nil, false, now, 60, false, stepSignIn},
		{"max_age passed, prompt=none", true, stale, []string{"none"}, false, now, 60, false, stepLoginRequired},
		{"max_age passed, signed in for this request", true, now, nil, true, now.Add(-5 * time.Second), 1, false, stepContinue},
		{"max_age passed at the request, not at the decision", true, stale, nil, true, now.Add(-5 * time.Second), 60, false, stepSignIn},
		{"max_age=0", true, now, nil, false, now, 0, false, stepSignIn},
		{"max_age=0, signed in for this request", true, now, nil, true, now, 0, false, stepContinue},
		{"max_age=0, prompt=none", true, now, []string{"none"}, false, now, 0, false, stepLoginRequired},
		{"max_age=10000", true, stale, nil, false, now, 10000, false, stepContinue},
		{"hint for another user", true, fresh, nil, false, now, none, true, stepSignIn},
		{"hint for another user, prompt=none", true, fresh, []string{"none"}, false, now, none, true, stepLoginRequired},
		{"hint for another user, not signed in, prompt=none", false, time.Time{}, []string{"none"}, false, now, none, false, stepLoginRequired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := signInCheck{
				signedIn: tc.signedIn, authTime: tc.authTime, requestedAt: tc.requestedAt, carried: tc.carried,
				prompt: tc.prompt, maxAge: tc.maxAge, otherUser: tc.otherUser,
			}
			if got := signInStep(c); got != tc.want {
				t.Fatalf("signInStep = %s, want %s", stepName(got), stepName(tc.want))
			}
		})
	}
}

func TestPromptProblem(t *testing.T) {
	for _, tc := range []struct {
		prompt []string
		want   string // "" no problem, else part of the message
	}{
		{nil, ""}, {[]string{"login"}, ""}, {[]string{"none"}, ""}, {[]string{"consent", "login"}, ""},
		{[]string{"select_account"}, ""}, {[]string{"none", "consent"}, "cannot be combined"},
		{[]string{"bogus"}, `"bogus" is not supported`}, {[]string{"Login"}, "not supported"},
	} {
		got := promptProblem(tc.prompt)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("promptProblem(%v) = %q, want %q", tc.prompt, got, tc.want)
		}
	}
}

func TestMaxAge(t *testing.T) {
	for v, want := range map[string]int64{"": -1, "0": 0, "1": 1, "10000": 10000, "-1": -1, "x": -1, "1.5": -1} {
		if got := maxAge(url.Values{"max_age": {v}}); got != want {
			t.Errorf("maxAge(%q) = %d, want %d", v, got, want)
		}
	}
}

func TestCarriedRequestTime(t *testing.T) {
	sealer, err := keys.NewSealer([]byte("0123456789abcdef0123456789abcdef"), "authd authorize carry v1")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{carry: sealer}
	now := time.Now().UTC().Truncate(time.Second)
	form := url.Values{"client_id": {"app"}, "state": {"s1"}, "prompt": {"login"}}
	u, err := url.Parse(s.carriedURL("/oauth2/auth", form, now.Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	back := u.Query()
	if got, ok := s.requestTime(back, now); !ok || !got.Equal(now.Add(-time.Minute)) {
		t.Fatalf("carried time %v %v, want %v", got, ok, now.Add(-time.Minute))
	}
	if got, ok := s.requestTime(back, now.Add(carryTTL+2*time.Minute)); ok || !got.Equal(now.Add(carryTTL+2*time.Minute)) {
		t.Errorf("a stale carry counted: %v %v", got, ok)
	}
	moved := url.Values{}
	for k, v := range back {
		moved[k] = v
	}
	moved.Set("state", "s2") // another request
	if got, ok := s.requestTime(moved, now); ok || !got.Equal(now) {
		t.Errorf("a carry moved to another request counted: %v %v", got, ok)
	}
	if _, ok := s.requestTime(form, now); ok {
		t.Error("a request without a carry counted as carried")
	}
	back.Set(carryParam, "AAAA")
	if _, ok := s.requestTime(back, now); ok {
		t.Error("a forged carry counted")
	}
}

func TestConsentStep(t *testing.T) {
	openidProfile := []string{"openid", "profile"}
	cases := []struct {
		name                          string
		decision                      string
		prompt, remembered, requested []string
		want                          step
	}{
		{"deny", "deny", nil, nil, openidProfile, stepDenied},
		{"deny despite remembered consent", "deny", nil, openidProfile, openidProfile, stepDenied},
		{"deny with prompt=none", "deny", []string{"none"}, nil, openidProfile, stepDenied},
		{"allow", "allow", nil, nil, openidProfile, stepRemember},
		{"allow with prompt=consent", "allow", []string{"consent"}, nil, openidProfile, stepRemember},
		{"remembered covers requested", "", nil, openidProfile, openidProfile, stepIssue},
		{"remembered is a superset", "", nil, []string{"openid", "profile", "offline_access"}, []string{"openid"}, stepIssue},
		{"remembered misses a scope", "", nil, []string{"openid"}, openidProfile, stepConsent},
		{"nothing remembered", "", nil, nil, []string{"openid"}, stepConsent},
		{"prompt=consent with remembered", "", []string{"consent"}, openidProfile, openidProfile, stepConsent},
		{"prompt=none without consent", "", []string{"none"}, nil, openidProfile, stepConsentRequired},
		{"prompt=none, remembered misses a scope", "", []string{"none"}, []string{"profile"}, openidProfile, stepConsentRequired},
		{"prompt=none with remembered", "", []string{"none"}, openidProfile, openidProfile, stepIssue},
		{"prompt=none consent with remembered", "", []string{"none", "consent"}, openidProfile, openidProfile, stepConsentRequired},
		{"empty requested", "", nil, nil, nil, stepIssue},
		{"an unknown decision is no decision", "maybe", nil, nil, openidProfile, stepConsent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := consentStep(tc.decision, tc.prompt, tc.remembered, tc.requested); got != tc.want {
				t.Fatalf("consentStep = %s, want %s", stepName(got), stepName(tc.want))
			}
		})
	}
}

func TestAuthorizeURL(t *testing.T) {
	form := url.Values{
		"csrf_token": {"c"}, "consent": {"allow"}, "username": {"alice"}, "password": {"pw"},
		"client_id": {"app"}, "redirect_uri": {"https://app.test/cb?x=1&y=2"}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {"s&t=a"}, "nonce": {"n"}, "code_challenge": {"abc"},
		"code_challenge_method": {"S256"}, "prompt": {"login"},
	}
	got := authorizeURL(decisionPath, form)
	path, query, ok := strings.Cut(got, "?")
	if !ok || path != decisionPath {
		t.Fatalf("authorizeURL = %q, want %s?...", got, decisionPath)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"csrf_token", "consent", "username", "password"} {
		if q.Has(k) {
			t.Errorf("%s kept", k)
		}
	}
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "prompt"} {
		if q.Get(k) != form.Get(k) {
			t.Errorf("%s = %q, want %q", k, q.Get(k), form.Get(k))
		}
	}
	if len(q) != 9 {
		t.Errorf("query has %d parameters: %v", len(q), q)
	}
	if form.Get("password") != "pw" {
		t.Error("authorizeURL modified its argument")
	}
	if got := authorizeURL("/oauth2/auth", url.Values{"password": {"pw"}}); got != "/oauth2/auth?" {
		t.Errorf("credentials only: %q", got)
	}
}

func TestParseAuthorizeForm(t *testing.T) {
	long := strings.Repeat("n", 100)
	cases := []struct {
		name, method, target, body string
		msg                        string // "": accepted
	}{
		{"GET", http.MethodGet, "/oauth2/auth?client_id=app&scope=openid", "", ""},
		{"POST form", http.MethodPost, "/oauth2/auth", "client_id=app&scope=openid", ""},
		{"repeated in the query", http.MethodGet, "/oauth2/auth?redirect_uri=a&redirect_uri=b", "", `"redirect_uri" is repeated`},
		{"repeated in the body", http.MethodPost, "/oauth2/auth", "state=a&state=b", `"state" is repeated`},
		{"repeated across query and body", http.MethodPost, "/oauth2/auth?client_id=a", "client_id=b", `"client_id" is repeated`},
		{"long repeated name quoted short", http.MethodGet, "/oauth2/auth?" + long + "=1&" + long + "=2", "", `"` + long[:64] + `" is repeated`},
		{"unparseable", http.MethodGet, "/oauth2/auth?a=%zz", "", "could not be parsed"},
		{"body too large", http.MethodPost, "/oauth2/auth", "state=" + strings.Repeat("x", 300), "could not be parsed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.method == http.MethodPost {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			msg, ok := parseAuthorizeForm(httptest.NewRecorder(), r, 256)
			if tc.msg == "" {
				if !ok || msg != "" {
					t.Fatalf("refused: %q", msg)
				}
				if r.Form.Get("client_id") != "app" {
					t.Fatalf("form not parsed: %v", r.Form)
				}
				return
			}
			if ok || !strings.Contains(msg, tc.msg) {
				t.Fatalf("parseAuthorizeForm = %q, %v; want refused saying %q", msg, ok, tc.msg)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	cases := []struct {
		have, want []string
		ok         bool
	}{
		{nil, nil, true},
		{[]string{"openid"}, nil, true},
		{nil, []string{"openid"}, false},
		{[]string{"openid", "profile"}, []string{"profile", "openid"}, true},
		{[]string{"openid"}, []string{"openid", "profile"}, false},
		{[]string{"Openid"}, []string{"openid"}, false},
	}
	for _, tc := range cases {
		if got := covers(tc.have, tc.want); got != tc.ok {
			t.Errorf("covers(%v, %v) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}

func TestDescribe(t *testing.T) {
	got := describe([]string{"profile", "custom", "openid", "offline_access"})
	names := make([]string, len(got))
	for i, s := range got {
		names[i] = s.Name
		if s.Description != knownScopes[s.Name] {
			t.Errorf("%s described %q, want %q", s.Name, s.Description, knownScopes[s.Name])
		}
	}
	if want := "openid profile custom offline_access"; strings.Join(names, " ") != want {
		t.Errorf("order %v, want %s (openid first, the rest as requested)", names, want)
	}
	if got[0].Description == "" {
		t.Error("openid has no description")
	}
	if got[2].Description != "" {
		t.Errorf("an unknown scope is described %q", got[2].Description)
	}
	if d := describe(nil); d == nil || len(d) != 0 {
		t.Errorf("describe(nil) = %#v, want an empty list", d)
	}
}

func TestDisplayName(t *testing.T) {
	named := &fositestore.Client{Client: storage.Client{ID: "app", Name: "The App"}}
	unnamed := &fositestore.Client{Client: storage.Client{ID: "app"}}
	if got := displayName(named); got != "The App" {
		t.Errorf("named client shown as %q", got)
	}
	if got := displayName(unnamed); got != "app" {
		t.Errorf("unnamed client shown as %q", got)
	}
}
