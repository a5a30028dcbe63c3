package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/grants"
	"github.com/authd/authd/users"
)

// adminAPI calls the admin API of one authd (its public listener, or its
// admin listener with AUTHD_ADMIN_ADDR) with the admin token.
type adminAPI struct {
	t     testing.TB
	base  string
	token string
	hc    *http.Client
}

func (e *e2e) admin() adminAPI {
	return adminAPI{t: e.t, base: e.srv.URL, token: devAdminToken, hc: e.hc}
}

// do sends method path with body (JSON, "" for none) and decodes the answer.
func (a adminAPI) do(method, path, body string) apiResp {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	return mustFetch(a.t, a.hc, req)
}

// want checks the status of r, then returns it.
func (a adminAPI) want(r apiResp, status int) apiResp {
	a.t.Helper()
	if r.Status != status {
		a.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// items decodes the items of a list answer and its next_cursor.
func items[T any](t testing.TB, r apiResp) ([]T, string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("list: %v", r)
	}
	var body struct {
		Items      []T     `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &body); err != nil || body.Items == nil {
		t.Fatalf("list body: %v: %s", err, r.Raw)
	}
	if body.NextCursor != nil && *body.NextCursor == "" {
		t.Fatalf("empty next_cursor: %s", r.Raw)
	}
	if body.NextCursor == nil {
		return body.Items, ""
	}
	return body.Items, *body.NextCursor
}

// signInStatus signs in as user with password from a fresh browser and
// returns the status of the form's answer (303 signed in).
func (e *e2e) signInStatus(user, password string) int {
	e.t.Helper()
	b := e.newBrowser()
	return b.post(e.srv.URL+"/login", b.signInForm(user, password)).Status
}

// decodeAnswer decodes the admin API's answer r into a T; it fails when
// the answer names no id (idOf returns "") or shows any of secrets.
func decodeAnswer[T any](t testing.TB, r apiResp, idOf func(T) string, secrets ...string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.Raw), &v); err != nil || idOf(v) == "" {
		t.Fatalf("%T body: %v: %s", v, err, r.Raw)
	}
	for _, s := range secrets {
		if strings.Contains(r.Raw, s) {
			t.Fatalf("a %T answer shows %q (a secret or its hash): %s", v, s, r.Raw)
		}
	}
	return v
}

// decodeUser: a user answer, never its password or hash.
func decodeUser(t testing.TB, r apiResp) users.View {
	t.Helper()
	return decodeAnswer(t, r, func(u users.View) string { return u.Subject }, "password", "argon2")
}

// TestAdminUsersCRUD: the admin API creates, reads, changes and deletes
// users on the path the CLI takes (a user the API created is the CLI's),
// with RFC 6749-shaped errors: 400 invalid_request, 404, 409 for a taken
// username, 401 without or with a wrong admin token.
func TestAdminUsersCRUD(t *testing.T) {
	e := newDevicesE2E(t)
	a := e.admin()
	for _, tok := range []string{"", "wrong-" + devAdminToken} {
		bad := a
		bad.token = tok
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			r := bad.do(m, "/admin/users", `{"username":"x","password":"long-enough-1"}`)
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_token")
		}
		wantOAuthError(t, bad.do(http.MethodDelete, "/admin/users/"+e.sub, ""), http.StatusUnauthorized, "invalid_token")
	}
	if _, err := e.srv.DB.GetUser(context.Background(), e.sub); err != nil {
		t.Fatalf("a refused DELETE deleted the user: %v", err)
	}

	r := a.want(a.do(http.MethodPost, "/admin/users", `{"username":"bob","password":"bob-password-1",
		"email":"bob@example.com","email_verified":true,"name":"Bob B","given_name":"Bob","family_name":"B"}`), http.StatusCreated)
	bob := decodeUser(t, r)
	if r.Header.Get("Location") != "/admin/users/"+bob.Subject || bob.Username != "bob" || bob.Email != "bob@example.com" ||
		!bob.EmailVerified || bob.Name != "Bob B" || bob.GivenName != "Bob" || bob.FamilyName != "B" || bob.Disabled {
		t.Fatalf("created: %s (Location %q)", r.Raw, r.Header.Get("Location"))
	}
	if got := e.signInStatus("bob", "bob-password-1"); got != http.StatusSeeOther {
		t.Errorf("sign-in of the created user: %d, want 303", got)
	}
	wantOAuthError(t, a.do(http.MethodPost, "/admin/users", `{"username":"bob","password":"other-password"}`), http.StatusConflict, "conflict")
	for _, body := range []string{
		`{"username":"carl","password":"short"}`, `{"password":"long-enough-1"}`, `{"username":"carl"}`,
		`{"username":"carl","password":"long-enough-1","passwd":"x"}`, `{"username":"carl","password":1}`,
		`not json`, `{"username":"carl","password":"long-enough-1"} {}`, `{"username":" carl","password":"long-enough-1"}`,
	} {
		wantOAuthError(t, a.do(http.MethodPost, "/admin/users", body), http.StatusBadRequest, "invalid_request")
	}

	form := e.call(http.MethodPost, "/admin/users", "application/x-www-form-urlencoded", "username=carl&password=long-enough-1")
	wantOAuthError(t, form, http.StatusUnauthorized, "invalid_token")
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/admin/users", strings.NewReader(`{"username":"carl","password":"long-enough-1"}`))
	req.Header.Set("Authorization", "Bearer "+devAdminToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // curl -d without --json
	wantOAuthError(t, mustFetch(t, e.hc, req), http.StatusBadRequest, "invalid_request")

	got := decodeUser(t, a.want(a.do(http.MethodGet, "/admin/users/"+bob.Subject, ""), http.StatusOK))
	if got != bob {
		t.Errorf("GET = %+v, want %+v", got, bob)
	}
	wantOAuthError(t, a.do(http.MethodGet, "/admin/users/nobody", ""), http.StatusNotFound, "not_found")
	wantOAuthError(t, a.do(http.MethodPut, "/admin/users/nobody", `{"name":"X"}`), http.StatusNotFound, "not_found")

	time.Sleep(5 * time.Millisecond) // updated_at moves
	upd := decodeUser(t, a.want(a.do(http.MethodPut, "/admin/users/"+bob.Subject, `{"email":"bob@example.org","name":"Robert B"}`), http.StatusOK))
	if upd.Email != "bob@example.org" || upd.Name != "Robert B" || upd.GivenName != "Bob" || !upd.EmailVerified ||
		upd.Username != "bob" || !upd.CreatedAt.Equal(bob.CreatedAt) || upd.UpdatedAt.Equal(bob.UpdatedAt) {
		t.Errorf("after PUT: %+v (before %+v)", upd, bob)
	}
	// A GET's answer edited and sent back is a valid PUT body.
	back := strings.Replace(a.do(http.MethodGet, "/admin/users/"+bob.Subject, "").Raw, `"Robert B"`, `"Bobby"`, 1)
	if u := decodeUser(t, a.want(a.do(http.MethodPut, "/admin/users/"+bob.Subject, back), http.StatusOK)); u.Name != "Bobby" {
		t.Errorf("PUT of an edited GET: %+v", u)
	}
	wantOAuthError(t, a.do(http.MethodPut, "/admin/users/"+bob.Subject, `{"username":"`+e2eUser+`"}`), http.StatusConflict, "conflict")
	wantOAuthError(t, a.do(http.MethodPut, "/admin/users/"+bob.Subject, `{"password":"short"}`), http.StatusBadRequest, "invalid_request")
	// The CLI changes the same record.
	if _, err := cli(t, e.srv, "users", "update", "--username", "bob", "--given-name", "Rob"); err != nil {
		t.Fatal(err)
	}
	if u := decodeUser(t, a.do(http.MethodGet, "/admin/users/"+bob.Subject, "")); u.GivenName != "Rob" {
		t.Errorf("after the CLI's update: %+v", u)
	}

	a.want(a.do(http.MethodDelete, "/admin/users/"+bob.Subject, ""), http.StatusNoContent)
	wantOAuthError(t, a.do(http.MethodGet, "/admin/users/"+bob.Subject, ""), http.StatusNotFound, "not_found")
	wantOAuthError(t, a.do(http.MethodDelete, "/admin/users/"+bob.Subject, ""), http.StatusNotFound, "not_found")
	if got := e.signInStatus("bob", "bob-password-1"); got != http.StatusUnauthorized {
		t.Errorf("sign-in of the deleted user: %d, want 401", got)
	}
	// The name is free again.
	a.want(a.do(http.MethodPost, "/admin/users", `{"username":"bob","password":"bob-password-2"}`), http.StatusCreated)
}

// TestAdminUsersPagination: GET /admin/users pages by username with limit
// and the opaque cursor; every user comes exactly once, in order, and the
// last page has no next_cursor. A bad limit or cursor is 400.
func TestAdminUsersPagination(t *testing.T) {
	e := newDevicesE2E(t)
	a := e.admin()
	want := []string{e2eUser}
	for _, n := range []string{"erin", "bob", "dave", "carol", "frank"} {
		a.want(a.do(http.MethodPost, "/admin/users", `{"username":"`+n+`","password":"password-of-`+n+`"}`), http.StatusCreated)
		want = append(want, n)
	}
	slices.Sort(want)
	var seen []string
	pages := 0
	for c := ""; ; pages++ {
		us, next := items[users.View](t, a.do(http.MethodGet, "/admin/users?limit=4&cursor="+url.QueryEscape(c), ""))
		if len(us) > 4 {
			t.Fatalf("page of %d users with limit 4", len(us))
		}
		for _, u := range us {
			seen = append(seen, u.Username)
		}
		if next == "" {
			break
		}
		c = next
	}
	if !slices.Equal(seen, want) || pages != 1 {
		t.Errorf("pages: %v in %d+1 pages, want %v in 2", seen, pages, want)
	}
	all, next := items[users.View](t, a.do(http.MethodGet, "/admin/users", ""))
	if len(all) != len(want) || next != "" {
		t.Errorf("default limit: %d users, next %q", len(all), next)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=%25%25", "cursor=" + cursorOf("g", "1")} {
		wantOAuthError(t, a.do(http.MethodGet, "/admin/users?"+q, ""), http.StatusBadRequest, "invalid_request")
	}
	// The grants list pages the same way.
	e.pkceLogin()
	e.pkceLogin()
	g1, next := items[grants.View](t, a.do(http.MethodGet, "/admin/subjects/"+e.sub+"/grants?limit=1", ""))
	g2, last := items[grants.View](t, a.do(http.MethodGet, "/admin/subjects/"+e.sub+"/grants?limit=1&cursor="+next, ""))
	if len(g1) != 1 || len(g2) != 1 || next == "" || last != "" || g1[0].ID == g2[0].ID {
		t.Errorf("grant pages: %v %q %v %q", g1, next, g2, last)
	}
}

// cursorOf forges a cursor of another listing (the admin API's encoding).
func cursorOf(kind, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + key))
}

// TestAdminUserPasswordChange: a profile change keeps the user's grants;
// a new password set through the admin API ends them (the refresh token
// fails, the access token introspects inactive), the old password no
// longer signs in and the new one does.
func TestAdminUserPasswordChange(t *testing.T) {
	e := newDevicesE2E(t)
	a := e.admin()
	tok := e.pkceLogin()
	a.want(a.do(http.MethodPut, "/admin/users/"+e.sub, `{"email":"alice@example.com"}`), http.StatusOK)
	r := e.refresh(tok.RefreshToken)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh after a profile change: %v", r)
	}
	rt, at := r.str("refresh_token"), r.str("access_token")
	b := e.newBrowser() // a browser signed in before the change
	e.deviceLoginIn(b, devUAs[0].UA)
	e.wantSignedIn(b, "browser before the password change")
	if n := len(decodeSessions(t, a.do(http.MethodGet, "/admin/subjects/"+e.sub+"/sessions", ""))); n == 0 {
		t.Fatal("no browser session before the password change")
	}
	a.want(a.do(http.MethodPut, "/admin/users/"+e.sub, `{"password":"a-brand-new-password"}`), http.StatusOK)
	// Every browser session ends with it: none may authorize a new grant.
	e.wantLoginRequired(b, "browser after the password change")
	if ss := decodeSessions(t, a.do(http.MethodGet, "/admin/subjects/"+e.sub+"/sessions", "")); len(ss) != 0 {
		t.Errorf("sessions after the password change: %+v", ss)
	}
	wantOAuthError(t, e.refresh(rt), http.StatusBadRequest, "invalid_grant")
	if e.active(at) {
		t.Error("access token active after the password change")
	}
	gs := decodeGrants(t, a.do(http.MethodGet, "/admin/subjects/"+e.sub+"/grants", ""))
	if len(gs) != 2 || gs[0].RevokeReason != "password_changed" || gs[1].RevokeReason != "password_changed" {
		t.Errorf("grants after the password change (the CLI's and the browser's): %+v", gs)
	}
	if got := e.signInStatus(e2eUser, e2ePassword); got != http.StatusUnauthorized {
		t.Errorf("old password: %d, want 401", got)
	}
	if got := e.signInStatus(e2eUser, "a-brand-new-password"); got != http.StatusSeeOther {
		t.Errorf("new password: %d, want 303", got)
	}
}

// TestAdminUserDisabled: disabling a user ends its grants, refuses its
// sign-in with the right password (403) and a code issued before (no grant
// is born); enabling it again lets it sign in. Deleting a user ends its grants too; their rows stay, revoked
// (user_deleted), for the janitor.
func TestAdminUserDisabled(t *testing.T) {
	e := newDevicesE2E(t)
	a := e.admin()
	tok := e.pkceLogin()
	code := e.confCode(e.newBrowser(), "openid", "offline_access") // issued before, redeemed after
	u := decodeUser(t, a.want(a.do(http.MethodPut, "/admin/users/"+e.sub, `{"disabled":true}`), http.StatusOK))
	if !u.Disabled {
		t.Fatalf("after disabling: %+v", u)
	}
	wantOAuthError(t, e.refresh(tok.RefreshToken), http.StatusBadRequest, "invalid_grant")
	r := e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e2eRedirect}}, confBasic)
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	if got := e.signInStatus(e2eUser, e2ePassword); got != http.StatusForbidden {
		t.Errorf("sign-in of a disabled user: %d, want 403", got)
	}
	a.want(a.do(http.MethodPut, "/admin/users/"+e.sub, `{"disabled":false}`), http.StatusOK)
	if got := e.signInStatus(e2eUser, e2ePassword); got != http.StatusSeeOther {
		t.Errorf("sign-in after enabling: %d, want 303", got)
	}
	tok = e.pkceLogin()
	a.want(a.do(http.MethodDelete, "/admin/users/"+e.sub, ""), http.StatusNoContent)
	wantOAuthError(t, e.refresh(tok.RefreshToken), http.StatusBadRequest, "invalid_grant")
	gs := decodeGrants(t, a.do(http.MethodGet, "/admin/subjects/"+e.sub+"/grants", ""))
	if len(gs) != 2 || gs[0].RevokeReason != "user_deleted" || gs[1].RevokeReason != "user_disabled" {
		t.Errorf("grant rows after the deletion: %+v", gs)
	}
}

// TestAdminAPIOnAdminListener: with AUTHD_ADMIN_ADDR the users and
// clients APIs and the OpenAPI document are served on the admin listener
// only.
func TestAdminAPIOnAdminListener(t *testing.T) {
	l := testListener(t)
	e := newDevicesE2E(t, func(c *Config) { c.AdminAddr = l.Addr().String() })
	serveAdmin(t, e.srv.App, l)
	public, private := e.admin(), e.admin()
	private.base = "http://" + l.Addr().String()
	for _, p := range []string{"/admin/users", "/admin/clients", "/admin/openapi.json"} {
		if r := public.do(http.MethodGet, p, ""); r.Status != http.StatusNotFound {
			t.Errorf("public listener %s: %v, want 404", p, r)
		}
	}
	c := decodeClient(t, private.want(private.do(http.MethodPost, "/admin/clients", `{"client_id":"svc",
		"grant_types":["client_credentials"],"scope":"api:read"}`), http.StatusCreated))
	ccToken(t, e.hc, e.srv.URL, "svc:"+c.ClientSecret, "api:read")
	if r := private.do(http.MethodGet, "/admin/openapi.json", ""); r.Status != http.StatusOK || r.str("openapi") != "3.1.0" {
		t.Errorf("admin listener /admin/openapi.json: %.200s", r.Raw)
	}
	private.want(private.do(http.MethodPost, "/admin/users", `{"username":"bob","password":"bob-password-1"}`), http.StatusCreated)
	us, _ := items[users.View](t, private.do(http.MethodGet, "/admin/users", ""))
	if len(us) != 2 {
		t.Errorf("admin listener lists %d users, want 2", len(us))
	}
}

// serveAdmin serves app's admin listener on l until the test ends.
func serveAdmin(t *testing.T, app *App, l net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.ServeAdmin(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve admin: %v", err)
		}
	})
}

// TestAdminAPIPostgresDown: with Postgres gone the users and clients
// routes answer 503 temporarily_unavailable with Retry-After, fast, never
// a 500.
func TestAdminAPIPostgresDown(t *testing.T) {
	pg := startOwnPostgres(t)
	e := newDevicesE2E(t, func(c *Config) { c.DatabaseURL = pg.URL() })
	a := e.admin()
	pg.Stop()
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/admin/users", ""},
		{http.MethodPost, "/admin/users", `{"username":"bob","password":"bob-password-1"}`},
		{http.MethodPut, "/admin/users/" + e.sub, `{"password":"a-new-password"}`},
		{http.MethodDelete, "/admin/users/" + e.sub, ""},
		{http.MethodGet, "/admin/clients", ""},
		{http.MethodPost, "/admin/clients", `{"client_id":"svc","grant_types":["client_credentials"]}`},
		{http.MethodDelete, "/admin/clients/" + e2eConfID, ""},
	} {
		r, took := timed(func() apiResp { return a.do(c.method, c.path, c.body) })
		wantUnavailable(t, c.method+" "+c.path, r, took, 5*time.Second)
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: no Retry-After", c.method, c.path)
		}
	}
}

// TestUsersCLIDisableDelete: `users update --disabled` and `users delete`
// take the admin API's path: the user's grants end, a disabled user cannot
// sign in and `users list` says so, a deleted one is gone and its browser
// sessions with it.
func TestUsersCLIDisableDelete(t *testing.T) {
	e := newDevicesE2E(t)
	tok := e.pkceLogin()
	if _, err := cli(t, e.srv, "users", "update", "--username", e2eUser, "--disabled"); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, e.refresh(tok.RefreshToken), http.StatusBadRequest, "invalid_grant")
	if got := e.signInStatus(e2eUser, e2ePassword); got != http.StatusForbidden {
		t.Errorf("sign-in after users update --disabled: %d, want 403", got)
	}
	out, err := cli(t, e.srv, "users", "list", "--json")
	if err != nil || !strings.Contains(out, `"disabled": true`) {
		t.Errorf("users list --json: %v %s", err, out)
	}
	if _, err := cli(t, e.srv, "users", "update", "--username", e2eUser, "--disabled=false"); err != nil {
		t.Fatal(err)
	}
	tok = e.pkceLogin()
	b := e.newBrowser() // signed in, ended by the delete
	e.deviceLoginIn(b, devUAs[0].UA)
	e.wantSignedIn(b, "browser before users delete")
	out, err = cli(t, e.srv, "users", "delete", "--username", e2eUser)
	if err != nil || !strings.Contains(out, e.sub) {
		t.Fatalf("users delete: %v %s", err, out)
	}
	wantOAuthError(t, e.refresh(tok.RefreshToken), http.StatusBadRequest, "invalid_grant")
	wantOAuthError(t, e.admin().do(http.MethodGet, "/admin/users/"+e.sub, ""), http.StatusNotFound, "not_found")
	e.wantLoginRequired(b, "browser after users delete") // the CLI ends browser sessions too
	if _, err := cli(t, e.srv, "users", "delete", "--subject", e.sub); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("delete twice: %v", err)
	}
	for _, args := range [][]string{{"users", "delete"}, {"users", "delete", "--username", "a", "--subject", "b"}} {
		if _, err := cli(t, e.srv, args...); exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
