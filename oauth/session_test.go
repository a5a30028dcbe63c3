package oauth

import (
	"bytes"
	"testing"
	"time"

	"github.com/ory/fosite"
)

// FuzzSessionJSON: any stored session bytes decode to an error or to a
// session that encodes and decodes back to the same bytes; never a panic.
func FuzzSessionJSON(f *testing.F) {
	s := newSession("0b5c3f0e-5a43-4b38-9d3c-3a6f2d1c9e77", "alice")
	s.SetExpiresAt(fosite.AccessToken, time.Unix(1_800_000_000, 0))
	s.SetExpiresAt(fosite.RefreshToken, time.Unix(1_900_000_000, 0))
	s.Claims.Nonce, s.Claims.AuthTime = "n-0S6_WzA2Mj", time.Unix(1_799_999_000, 0)
	s.Claims.AuthenticationMethodsReferences = []string{"pwd"}
	good, err := s.MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{good, []byte(`{}`), []byte(`{"e":{"a":-1,"zz":3}}`), []byte(`{"amr":[1]}`), []byte(`{"s":"\ud800"}`), []byte(`[`)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got Session
		if err := got.UnmarshalJSON(b); err != nil {
			return
		}
		once, err := got.MarshalJSON()
		if err != nil {
			t.Fatalf("decoded %q, cannot encode it: %v", b, err)
		}
		var again Session
		if err := again.UnmarshalJSON(once); err != nil {
			t.Fatalf("re-decoding %q: %v", once, err)
		}
		twice, err := again.MarshalJSON()
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("not stable: %q -> %q -> %q (%v)", b, once, twice, err)
		}
	})
}

// TestSessionJSONRoundTrip: what a code exchange stores comes back whole.
func TestSessionJSONRoundTrip(t *testing.T) {
	s := newSession("sub-1", "alice")
	s.SetExpiresAt(fosite.AccessToken, time.Unix(1_800_000_000, 0).UTC())
	s.Claims.Nonce, s.Claims.AuthTime, s.Claims.RequestedAt = "nonce", time.Unix(1_799_999_000, 0).UTC(), time.Unix(1_799_999_001, 0).UTC()
	s.Claims.AuthenticationMethodsReferences = []string{"pwd"}
	b, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"s":"sub-1","u":"alice","e":{"a":1800000000},"n":"nonce","at":1799999000,"rt":1799999001,"amr":["pwd"]}`
	if string(b) != want {
		t.Fatalf("encoded %s, want %s", b, want)
	}
	var got Session
	if err := got.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if got.Subject != "sub-1" || got.Username != "alice" || !got.GetExpiresAt(fosite.AccessToken).Equal(s.GetExpiresAt(fosite.AccessToken)) ||
		got.Claims.Nonce != "nonce" || !got.Claims.AuthTime.Equal(s.Claims.AuthTime) || !got.Claims.RequestedAt.Equal(s.Claims.RequestedAt) ||
		len(got.Claims.AuthenticationMethodsReferences) != 1 || got.Claims.Subject != "sub-1" {
		t.Fatalf("decoded %+v (claims %+v)", got, got.Claims)
	}
}

// TestSessionSIDKept: the browser session's id survives storage and
// Clone (a refresh decodes the stored session and clones it), and the ID
// token claims carry it as sid; a session without one has no sid claim.
func TestSessionSIDKept(t *testing.T) {
	s := newSession("sub-1", "alice")
	s.SID = "sid-1"
	b, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var got Session
	if err := got.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	c, _ := got.Clone().(*Session)
	if got.SID != "sid-1" || c == nil || c.SID != "sid-1" || c.IDTokenClaims().ToMap()["sid"] != "sid-1" {
		t.Fatalf("decoded %+v, clone %+v", got, c)
	}
	if _, ok := newSession("sub-2", "bob").IDTokenClaims().ToMap()["sid"]; ok {
		t.Error("sid claim without a browser session")
	}
}
