package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

func TestMayIntrospect(t *testing.T) {
	cases := []struct {
		name   string
		client fosite.Client
		ok     bool
	}{
		{"confidential with --introspect", fakeClient(t, "rs", "", false, true), true},
		{"public with --introspect", fakeClient(t, "pub", "", true, true), false},
		{"confidential without --introspect", fakeClient(t, "app", "", false, false), false},
		{"not an authd client", &fosite.DefaultClient{ID: "rs"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := mayIntrospect(tc.client)
			if tc.ok {
				if err != nil || c == nil || c.ID != tc.client.GetID() {
					t.Fatalf("refused: %v (%v)", err, c)
				}
				return
			}
			wantRFC6749(t, err, "unauthorized_client", http.StatusForbidden)
		})
	}
}

// introspectionCaller over a real *fosite.Fosite and fake client storage:
// authentication (HTTP Basic, client_secret_post made Basic by parseForm,
// bad assertions) and then authorisation (--introspect, confidential).
func TestIntrospectionCaller(t *testing.T) {
	generated := storage.GenerateClientSecret() // stored as sha256
	const chosen = "correct horse battery"      // operator-chosen: argon2id
	clients := &fakeClients{clients: map[string]*fositestore.Client{}}
	for _, c := range []*fositestore.Client{
		fakeClient(t, "rs", generated, false, true),
		fakeClient(t, "rs-chosen", chosen, false, true),
		fakeClient(t, "app", generated, false, false),
		fakeClient(t, "pub", "", true, true),
		fakeClient(t, "odd:id %x", generated, false, true),
	} {
		clients.clients[c.ID] = c
	}
	s := serverWith(Config{}, fositeOver(clients))
	basic := func(id, secret string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
	}
	cases := []struct {
		name   string
		form   url.Values
		auth   func(*http.Request)
		code   string // "": allowed
		status int
		asked  bool // the client store was consulted
	}{
		{name: "no credentials", form: url.Values{"token": {"t"}}, code: "invalid_client", status: 401},
		{name: "client_id only", form: url.Values{"token": {"t"}, "client_id": {"rs"}}, code: "invalid_client", status: 401},
		{name: "wrong secret", auth: basic("rs", "nope"), code: "invalid_client", status: 401, asked: true},
		{name: "wrong secret, chosen", auth: basic("rs-chosen", "nope"), code: "invalid_client", status: 401, asked: true},
		{name: "unknown client", auth: basic("ghost", generated), code: "invalid_client", status: 401, asked: true},
		{name: "undecodable Basic id", auth: func(r *http.Request) { r.SetBasicAuth("%zz", "x") }, code: "invalid_client", status: 401},
		{name: "garbage client assertion", form: url.Values{"token": {"t"}, "client_assertion": {"not.a.jwt"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}, code: "invalid_client", status: 401},
		{name: "right secret, no --introspect", auth: basic("app", generated), code: "unauthorized_client", status: 403, asked: true},
		{name: "public client", auth: func(r *http.Request) { r.SetBasicAuth("pub", "") }, code: "unauthorized_client", status: 403, asked: true},
		{name: "right secret", auth: basic("rs", generated), asked: true},
		{name: "right chosen secret", auth: basic("rs-chosen", chosen), asked: true},
		{name: "client_secret_post", form: url.Values{"token": {"t"}, "client_id": {"rs"}, "client_secret": {generated}}, asked: true},
		{name: "client_secret_post, odd id", form: url.Values{"token": {"t"}, "client_id": {"odd:id %x"}, "client_secret": {generated}}, asked: true},
		{name: "client_secret_post, wrong secret", form: url.Values{"client_id": {"rs"}, "client_secret": {"x"}}, code: "invalid_client", status: 401, asked: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := tc.form
			if form == nil {
				form = url.Values{"token": {"t"}}
			}
			r := formRequest("/oauth2/introspect", form.Encode())
			if tc.auth != nil {
				tc.auth(r)
			}
			if err := parseForm(httptest.NewRecorder(), r, 1<<10); err != nil {
				t.Fatalf("parseForm: %v", err)
			}
			before := clients.calls.Load()
			caller, err := s.introspectionCaller(r)
			if asked := clients.calls.Load() > before; asked != tc.asked {
				t.Errorf("client store asked: %v, want %v", asked, tc.asked)
			}
			if tc.code == "" {
				if err != nil || caller == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRFC6749(t, err, tc.code, tc.status)
			if caller != nil {
				t.Errorf("refused caller returned: %v", caller.ID)
			}
			w := httptest.NewRecorder()
			writeError(w, err)
			if w.Code != tc.status || (tc.status == 401) != (w.Header().Get("WWW-Authenticate") != "") {
				t.Fatalf("written as %d with WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// A client store that cannot be reached makes introspection
// temporarily_unavailable, not a verdict on the caller's credentials.
func TestIntrospectionCallerUnavailable(t *testing.T) {
	for name, cause := range map[string]error{
		"refused":  outage(refused()),
		"ECONNREF": outage(syscall.ECONNREFUSED),
	} {
		t.Run(name, func(t *testing.T) {
			clients := &fakeClients{err: cause}
			s := serverWith(Config{}, fositeOver(clients))
			r := formRequest("/oauth2/introspect", "token=t")
			r.SetBasicAuth("rs", "secret")
			if err := parseForm(httptest.NewRecorder(), r, 1<<10); err != nil {
				t.Fatal(err)
			}
			_, err := s.introspectionCaller(r)
			wantRFC6749(t, err, "temporarily_unavailable", http.StatusServiceUnavailable)
			if clients.calls.Load() != 1 {
				t.Fatalf("client store asked %d times", clients.calls.Load())
			}
		})
	}
}
