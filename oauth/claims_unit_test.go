package oauth

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

func TestParseClaimsRequest(t *testing.T) {
	cr, err := parseClaimsRequest(`{"userinfo":{"name":{"essential":true},"email":null},"id_token":{"sub":{"value":"u1"},` +
		`"acr":{"essential":true,"values":["a","b"]}},"other":1}`)
	if err != nil {
		t.Fatal(err)
	}
	if a := cr.UserInfo["name"]; a == nil || !a.Essential {
		t.Errorf("userinfo name %+v, want essential", a)
	}
	if _, ok := cr.UserInfo["email"]; !ok {
		t.Error("a null claim request is lost")
	}
	if cr.subject() != "u1" || !cr.essentialACR() {
		t.Errorf("subject %q essentialACR %v, want u1 and true", cr.subject(), cr.essentialACR())
	}
	if cr, err := parseClaimsRequest(""); err != nil || cr.subject() != "" || cr.essentialACR() {
		t.Errorf("no parameter: %+v %v", cr, err)
	}
	if cr, _ := parseClaimsRequest(`{"id_token":{"acr":{"values":["a"]},"sub":{"value":7}}}`); cr.essentialACR() || cr.subject() != "" {
		t.Error("a voluntary acr or a non-string sub value must change nothing")
	}
	for _, bad := range []string{`{`, `[]`, `"x"`, `{"userinfo":[]}`, `{"id_token":{"name":5}}`, `{"id_token":{"name":{"essential":1}}}`} {
		if _, err := parseClaimsRequest(bad); !errors.Is(err, fosite.ErrInvalidRequest) {
			t.Errorf("%s: err %v, want invalid_request", bad, err)
		}
	}
}

func TestGrantClaims(t *testing.T) {
	cr, _ := parseClaimsRequest(`{"userinfo":{"name":null,"email":null,"family_name":null,"picture":null},` +
		`"id_token":{"email_verified":null,"given_name":null,"sub":null,"address":null}}`)
	g := grantClaims(cr, []string{"openid", "profile"}, []string{"openid", "profile", "email"})
	want := claimGrant{userinfo: []string{"email"}, idToken: []string{"email_verified", "given_name"}, scopes: []string{"email"}}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("grant %+v, want %+v", g, want)
	}
	g = grantClaims(cr, []string{"openid"}, []string{"openid", "profile"})
	want = claimGrant{userinfo: []string{"family_name", "name"}, idToken: []string{"given_name"}, scopes: []string{"profile"}}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("client without email: grant %+v, want %+v", g, want)
	}
}

func TestAddUserClaims(t *testing.T) {
	u := &storage.User{Username: "alice", Name: "Alice", UpdatedAt: time.Unix(1_800_000_000, 0)}
	out := map[string]any{}
	addUserClaims(out, u, scopeClaims(fosite.Arguments{"openid", "profile", "email"}, []string{"name", "nickname"}))
	want := map[string]any{"name": "Alice", "preferred_username": "alice", "updated_at": int64(1_800_000_000)}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("claims %v, want %v (no email: none of its claims)", out, want)
	}
}

// TestSessionClaimsRoundTrip: the ID token's user claims and the userinfo
// claim names survive storage and Clone (a refresh clones the stored
// session).
func TestSessionClaimsRoundTrip(t *testing.T) {
	s := newSession("sub-1", "alice")
	s.Claims.Extra = map[string]any{"name": "Alice", "email_verified": true, "updated_at": int64(1_800_000_000)}
	s.UserinfoClaims = []string{"family_name"}
	b, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"s":"sub-1","u":"alice","x":{"email_verified":true,"name":"Alice","updated_at":1800000000},"uc":["family_name"]}`
	if string(b) != want {
		t.Fatalf("encoded %s, want %s", b, want)
	}
	var got Session
	if err := got.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	c := got.Clone().(*Session)
	if c.Claims.Extra["name"] != "Alice" || c.Claims.Extra["email_verified"] != true || !reflect.DeepEqual(c.UserinfoClaims, []string{"family_name"}) {
		t.Fatalf("decoded and cloned: extra %v userinfo %v", c.Claims.Extra, c.UserinfoClaims)
	}
	c.Claims.Extra["name"] = "changed"
	if got.Claims.Extra["name"] != "Alice" {
		t.Error("Clone shares the claims map")
	}
}
