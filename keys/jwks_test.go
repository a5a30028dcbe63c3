package keys

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// The method value has the http.HandlerFunc shape.
var _ http.HandlerFunc = (*Manager)(nil).ServeJWKS

func serve(m *Manager, method, ifNoneMatch string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/.well-known/jwks.json", nil)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	rec := httptest.NewRecorder()
	m.ServeJWKS(rec, req)
	return rec
}

func TestServeJWKS(t *testing.T) {
	m := newTestManager(t, &fakeStore{})
	mustEnsure(t, m, RS256, ES256)
	body, etag := m.JWKS()

	rec := serve(m, http.MethodGet, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET: %d", rec.Code)
	}
	h := rec.Result().Header
	for name, want := range map[string]string{
		"Content-Type":   "application/json",
		"Cache-Control":  "public, max-age=300",
		"ETag":           etag,
		"Content-Length": strconv.Itoa(len(body)),
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if rec.Body.String() != string(body) {
		t.Error("served body differs from JWKS()")
	}
	if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' || strings.HasPrefix(etag, "W/") {
		t.Errorf("ETag %s is not a quoted strong validator", etag)
	}

	for _, inm := range []string{etag, "W/" + etag, `"stale", ` + etag, "*"} {
		rec := serve(m, http.MethodGet, inm)
		if rec.Code != http.StatusNotModified {
			t.Errorf("If-None-Match %s: %d, want 304", inm, rec.Code)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: 304 with a body", inm)
		}
		if rec.Header().Get("ETag") != etag || rec.Header().Get("Cache-Control") == "" {
			t.Errorf("If-None-Match %s: 304 without ETag/Cache-Control", inm)
		}
	}
	if rec := serve(m, http.MethodGet, `"stale"`); rec.Code != http.StatusOK {
		t.Errorf("stale If-None-Match: %d, want 200", rec.Code)
	}

	rec = serve(m, http.MethodHead, "")
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag {
		t.Errorf("HEAD: %d, body %d bytes, ETag %q", rec.Code, rec.Body.Len(), rec.Header().Get("ETag"))
	}
	rec = serve(m, http.MethodPost, "")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestETagFollowsTheKeySet(t *testing.T) {
	ctx := context.Background()
	m := newTestManager(t, &fakeStore{})
	mustEnsure(t, m, ES256)
	_, etag1 := m.JWKS()

	// Reloading an unchanged set keeps the ETag (and every replica agrees).
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, e := m.JWKS(); e != etag1 {
		t.Fatalf("ETag changed on an unchanged reload: %s -> %s", etag1, e)
	}

	rec, err := m.Rotate(ctx, ES256, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, etag2 := m.JWKS()
	if etag2 == etag1 {
		t.Fatal("ETag unchanged after Rotate")
	}
	if r := serve(m, http.MethodGet, etag1); r.Code != http.StatusOK {
		t.Fatalf("old ETag after rotation: %d, want 200", r.Code)
	}
	if r := serve(m, http.MethodGet, etag2); r.Code != http.StatusNotModified {
		t.Fatalf("current ETag: %d, want 304", r.Code)
	}

	if err := retire(ctx, m, rec.ID); err != nil {
		t.Fatal(err)
	}
	_, etag3 := m.JWKS()
	if etag3 == etag2 {
		t.Fatal("ETag unchanged after Retire")
	}
	if etag3 != etag1 {
		t.Fatal("same key set, different ETag")
	}
}

func TestServeJWKSBeforeLoad(t *testing.T) {
	m := newTestManager(t, &fakeStore{})
	rec := serve(m, http.MethodGet, "")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("before Load: %d, want 503", rec.Code)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("before Load: Cache-Control %q", cc)
	}
	// Loading an empty store is a valid, published, empty set.
	if err := m.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec = serve(m, http.MethodGet, "")
	if rec.Code != http.StatusOK || rec.Body.String() != `{"keys":[]}` {
		t.Fatalf("empty store: %d %s", rec.Code, rec.Body)
	}
}

func TestETagMatches(t *testing.T) {
	const tag = `"abc"`
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{`"abc"`, true},
		{`W/"abc"`, true},
		{`"x", "abc"`, true},
		{`"x",W/"abc"`, true},
		{` "x" , "y" `, false},
		{"*", true},
		{`"abcd"`, false},
		{`"ab`, false},
		{`abc`, false},
		{`W/`, false},
		{`,,,`, false},
	} {
		if got := etagMatches(tc.header, tag); got != tc.want {
			t.Errorf("etagMatches(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}
