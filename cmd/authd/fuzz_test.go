package main

// Hostile input at the protocol endpoints. Each fuzz target starts one real
// App (real Redis and Postgres, its own schema and prefix) and sends every
// input straight through App.Handler with an httptest recorder: never a 5xx,
// never a panic, and every 4xx of /oauth2/token, /oauth2/revoke and
// /oauth2/introspect is a JSON object with an "error" member. The seed corpus
// (f.Add below and testdata/fuzz/<Target>/) also runs as an ordinary test;
// `make test` fuzzes each target for a few seconds.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authd/authd/storage"
)

// fuzzApp starts authd with the standard clients and user (as newE2E) and
// returns it.
func fuzzApp(f *testing.F) *testServer {
	f.Helper()
	srv := startServer(f)
	srv.addUser(f, e2eUser, e2ePassword)
	addStdClients(f, srv)
	return srv
}

// addStdClients registers newE2E's three clients on srv.
func addStdClients(f testing.TB, srv *testServer) {
	f.Helper()
	srv.addClient(f, storage.Client{
		ID: e2eConfID, Name: "Web App", RedirectURIs: []string{e2eRedirect},
		GrantTypes:    []string{"authorization_code", "refresh_token", "client_credentials"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile", "offline_access", "api:read"},
	}, e2eConfSecret)
	srv.addClient(f, storage.Client{
		ID: e2ePubID, Name: "CLI", RedirectURIs: []string{e2eRedirect},
		GrantTypes:    []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile", "offline_access"},
	}, "")
	srv.addClient(f, storage.Client{
		ID: e2eRSID, Name: "Resource Server", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"api:read"}, Introspect: true,
	}, e2eRSSecret)
}

// serveFuzz sends one request through the handler. A panic fails the test
// (the recoverer would turn it into a 500, which fails it too).
func serveFuzz(t *testing.T, h http.Handler, method, path, rawQuery, contentType, authorization string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(string(body)))
	req.URL.RawQuery = rawQuery
	req.RequestURI = ""
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkProtocolResponse asserts no 5xx, and a JSON error object for a 4xx.
func checkProtocolResponse(t *testing.T, path string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
	}
	if rec.Code < 400 {
		return
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: %d with a non-JSON body %q", path, rec.Code, rec.Body.String())
	}
	if e, _ := body["error"].(string); e == "" {
		t.Fatalf("%s: %d without an error member: %s", path, rec.Code, rec.Body.String())
	}
}

func basicHeader(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

const ctForm = "application/x-www-form-urlencoded"

// fuzzSeeds are bodies worth starting from at every form endpoint.
var fuzzSeeds = []string{
	"grant_type=client_credentials&scope=api%3Aread",
	"grant_type=refresh_token&refresh_token=authd_rt_00000000-0000-0000-0000-000000000000.0.AAAA.BBBB&client_id=cli",
	"grant_type=authorization_code&code=authd_ac_x.0.a.b&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&client_id=cli&code_verifier=abc",
	"grant_type=client_credentials&client_id=webapp&client_secret=webapp-secret-0123456789abcdef",
	"token=authd_at_00000000-0000-0000-0000-000000000000.0.AAAA.BBBB&token_type_hint=access_token",
	"token=x&token=y",
	"grant_type=%ff%fe",
	"%zz%%&&==\x00\xff",
	"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=x&client_id=cli",
	"",
}

func addFormSeeds(f *testing.F) {
	for _, b := range fuzzSeeds {
		f.Add(ctForm, basicHeader(e2eConfID, e2eConfSecret), []byte(b))
		f.Add(ctForm, "", []byte(b))
	}
	f.Add("application/json", basicHeader(e2eRSID, e2eRSSecret), []byte(`{"token":"x"}`))
	f.Add("multipart/form-data; boundary=x", "", []byte("--x\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nx\r\n--x--\r\n"))
	f.Add(ctForm+"; charset=utf-8", "Bearer abc", []byte("token=x"))
	f.Add(ctForm, "Basic !!!", []byte("grant_type=client_credentials"))
	f.Add(ctForm, basicHeader("webapp%zz", "x"), []byte("grant_type=client_credentials"))
}

func fuzzFormEndpoint(f *testing.F, path string) {
	srv := fuzzApp(f)
	addFormSeeds(f)
	f.Fuzz(func(t *testing.T, contentType, authorization string, body []byte) {
		rec := serveFuzz(t, srv.App.Handler, http.MethodPost, path, "", contentType, authorization, body)
		checkProtocolResponse(t, path, rec)
	})
}

func FuzzTokenEndpoint(f *testing.F)         { fuzzFormEndpoint(f, "/oauth2/token") }
func FuzzRevocationEndpoint(f *testing.F)    { fuzzFormEndpoint(f, "/oauth2/revoke") }
func FuzzIntrospectionEndpoint(f *testing.F) { fuzzFormEndpoint(f, "/oauth2/introspect") }

// FuzzAuthorizationEndpoint fuzzes the query of GET /oauth2/auth and the body
// of a form POST to it: an error page or a redirect, never a 5xx.
func FuzzAuthorizationEndpoint(f *testing.F) {
	srv := fuzzApp(f)
	good := url.Values{
		"response_type": {"code"}, "client_id": {e2ePubID}, "redirect_uri": {e2eRedirect}, "scope": {"openid profile"},
		"state": {"state-0123456789"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuggSTjw2Hk"},
		"code_challenge_method": {"S256"},
	}
	f.Add(good.Encode(), false)
	f.Add(good.Encode(), true)
	f.Add("response_type=token&client_id=cli&redirect_uri=http%3A%2F%2Fevil.example%2F", false)
	f.Add("client_id=cli&client_id=webapp", false)
	f.Add("response_type=code&client_id=cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&code_challenge_method=plain&code_challenge=abc", false)
	f.Add("response_type=code&client_id=webapp&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&prompt=none&scope=openid", false)
	f.Add("request=eyJhbGciOiJub25lIn0.e30.&client_id=cli", false)
	f.Add("%ff=%fe&redirect_uri=%00", true)
	f.Fuzz(func(t *testing.T, query string, post bool) {
		var rec *httptest.ResponseRecorder
		if post {
			rec = serveFuzz(t, srv.App.Handler, http.MethodPost, "/oauth2/auth", "", ctForm, "", []byte(query))
		} else {
			rec = serveFuzz(t, srv.App.Handler, http.MethodGet, "/oauth2/auth", query, "", "", nil)
		}
		if rec.Code >= 500 {
			t.Fatalf("/oauth2/auth: %d %.500s", rec.Code, rec.Body.String())
		}
		if loc := rec.Header().Get("Location"); loc != "" && rec.Code/100 == 3 {
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatalf("unparsable Location %q", loc)
			}
			// Only ever to the registered redirect URI (on any port: RFC
			// 8252 §7.3 loopback), or back to ourselves.
			if u.IsAbs() && u.Scheme+"://"+u.Hostname()+u.Path != "http://127.0.0.1/callback" {
				t.Fatalf("redirected to %q", loc)
			}
		}
	})
}

// TestHostileFormInput: the request-shape checks every form endpoint makes
// before anything else, as one table over token, revocation and
// introspection.
func TestHostileFormInput(t *testing.T) {
	srv := startServer(t)
	conf := basicHeader("someone", "something")
	long := strings.Repeat("a", 5000)
	cases := []struct {
		name, contentType, body string
	}{
		{"JSON content type", "application/json", `{"grant_type":"client_credentials","token":"x"}`},
		{"text/plain content type", "text/plain", "grant_type=client_credentials&token=x"},
		{"multipart content type", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nx\r\n--x--\r\n"},
		{"no content type", "", "grant_type=client_credentials&token=x"},
		{"duplicated parameter", ctForm, "grant_type=client_credentials&grant_type=client_credentials&token=x&token=x"},
		{"duplicated parameter, different values", ctForm, "grant_type=client_credentials&scope=a&scope=b&token=x&token_type_hint=a&token_type_hint=b"},
		{"invalid UTF-8 value", ctForm, "grant_type=client_credentials&token=%ff%fe&scope=%c3%28"},
		{"invalid UTF-8 name", ctForm, "grant_type=client_credentials&token=x&%ff=1"},
		{"over-long value", ctForm, "grant_type=client_credentials&token=" + long + "&scope=" + long},
		{"over-long client_id", ctForm, "grant_type=client_credentials&token=x&client_id=" + long},
		{"1 MB body", ctForm, "grant_type=client_credentials&token=" + strings.Repeat("b", 1<<20)},
		{"malformed encoding", ctForm, "grant_type=client_credentials&token=%zz"},
	}
	for _, path := range []string{"/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"} {
		for _, c := range cases {
			t.Run(path+"/"+c.name, func(t *testing.T) {
				rec := serveFuzz(t, srv.App.Handler, http.MethodPost, path, "", c.contentType, conf, []byte(c.body))
				checkProtocolResponse(t, path, rec)
				var body map[string]any
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if rec.Code != http.StatusBadRequest || body["error"] != "invalid_request" {
					t.Errorf("%d %s, want 400 invalid_request", rec.Code, rec.Body.String())
				}
			})
		}
	}
}
