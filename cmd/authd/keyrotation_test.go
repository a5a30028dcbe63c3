package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authd/authd/keys"
)

// jwksOf fetches a replica's JWKS.
func jwksOf(t *testing.T, r *replica) jose.JSONWebKeySet {
	t.Helper()
	resp := r.get(t, noRedirectClient(nil), "/.well-known/jwks.json")
	var set jose.JSONWebKeySet
	if resp.Status != http.StatusOK || json.Unmarshal([]byte(resp.Raw), &set) != nil {
		t.Fatalf("JWKS on %s: %d %s", r.URL, resp.Status, resp.Raw)
	}
	return set
}

// kidsOf lists the RS256 kids of set (ID tokens are RS256; an ES256 key,
// if any, rotates alongside).
func kidsOf(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		if k.Algorithm == "RS256" {
			out = append(out, k.KeyID)
		}
	}
	slices.Sort(out)
	return out
}

// verifyIDToken checks raw against set and returns its kid.
func verifyIDToken(t *testing.T, set jose.JSONWebKeySet, raw string) (kid string, err error) {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse ID token: %v", err)
	}
	kid = tok.Headers[0].KeyID
	ks := set.Key(kid)
	if len(ks) != 1 {
		return kid, errNoKey(kid)
	}
	var c jwt.Claims
	return kid, tok.Claims(ks[0], &c)
}

type errNoKey string

func (e errNoKey) Error() string { return "no key " + string(e) + " in JWKS" }

// Three replicas with AUTHD_KEY_ROTATION (shortened): exactly one rotates;
// the new key is published everywhere before anyone signs with it; ID tokens
// of the old key keep verifying until it is retired.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	const (
		period = 4 * time.Second
		lead   = 1500 * time.Millisecond
		retire = 2 * time.Second // retirement (1.5s + 2s after a rotation) falls before the next rotation (4s)
	)
	start := time.Now()
	rs, db := startReplicas(t, repReplicaNum, false, func(c *Config) {
		c.KeyRotation = period
		c.keyTimes = keyTiming{refresh: 100 * time.Millisecond, check: 50 * time.Millisecond, lead: lead, retireAfter: retire}
	})
	repFixtures(t, db)
	ctx := context.Background()
	web := repWebID + ":" + repWebSecret
	jar, _ := cookiejar.New(nil)
	b := noRedirectClient(jar)
	// idToken signs in once (the session and consent are then remembered)
	// and returns a fresh ID token issued by replica r.
	idToken := func(r *replica) string {
		t.Helper()
		state := randString(t)
		p := r.get(t, b, repAuthURL(state))
		if isLoginPage(p) {
			p = r.get(t, b, signIn(t, r, b, p))
		}
		code := allow(t, r, b, p, state)
		tok := r.post(t, noRedirectClient(nil), "/oauth2/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {repRedirect},
		}, web)
		if tok.str("id_token") == "" {
			t.Fatalf("no ID token from %s: %d %s", r.URL, tok.Status, tok.Raw)
		}
		return tok.str("id_token")
	}

	first := jwksOf(t, rs[0])
	if len(kidsOf(first)) != 1 {
		t.Fatalf("at start JWKS has RS256 keys %v", kidsOf(first))
	}
	k0 := kidsOf(first)[0]
	keysAtStart := len(first.Keys)
	oldToken := idToken(rs[0])
	if kid, err := verifyIDToken(t, first, oldToken); kid != k0 || err != nil {
		t.Fatalf("first ID token: kid %s, err %v", kid, err)
	}

	// Wait for the rotation to show up in replica 2's JWKS.
	var published time.Time
	var k1 string
	for deadline := time.Now().Add(period + 3*time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no rotation within %v of a %v period", time.Since(start), period)
		}
		if kids := kidsOf(jwksOf(t, rs[1])); len(kids) > 1 {
			published = time.Now()
			for _, k := range kids {
				if k != k0 {
					k1 = k
				}
			}
			break
		}
	}
	t.Logf("rotation published %v after start", published.Sub(start).Round(time.Millisecond))
	// Each algorithm rotates under its own lock hold, so the ES256 rotation
	// can land a moment after the RS256 key shows up: wait for it (bounded),
	// then require exactly one new key per algorithm.
	var all []keys.KeyInfo
	var err error
	for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		if all, err = rs[0].App.Keys.List(ctx); err != nil {
			t.Fatal(err)
		}
		if len(all) >= 2*keysAtStart || time.Now().After(deadline) {
			break
		}
	}
	if len(all) != 2*keysAtStart {
		t.Fatalf("%d keys in the store after one period, want %d (one replica rotates each algorithm once): %+v", len(all), 2*keysAtStart, all)
	}
	// During the lead every replica publishes the new key and signs with the old.
	for i, r := range rs {
		if time.Since(published) > lead/2 {
			t.Skip("machine too slow to observe the lead window")
		}
		want := []string{k0, k1}
		slices.Sort(want)
		if got := kidsOf(jwksOf(t, r)); !slices.Equal(got, want) {
			// The other replicas reload every 100ms; allow one reload.
			time.Sleep(150 * time.Millisecond)
			if got = kidsOf(jwksOf(t, r)); len(got) != 2 {
				t.Errorf("replica %d publishes %v during the lead", i+1, got)
			}
		}
		if kid, _, err := r.App.Keys.Signer("RS256"); err != nil || kid != k0 {
			t.Errorf("replica %d signs with %s during the lead, want the old key %s", i+1, kid, k0)
		}
	}

	// After the lead, ID tokens carry the new kid and the old token still
	// verifies with any replica's JWKS.
	time.Sleep(time.Until(published.Add(lead + 200*time.Millisecond)))
	for i, r := range rs {
		tok := idToken(r)
		if kid, err := verifyIDToken(t, jwksOf(t, r), tok); kid != k1 || err != nil {
			t.Errorf("replica %d: ID token after the lead signed by %s (err %v), want %s", i+1, kid, err, k1)
		}
		if _, err := verifyIDToken(t, jwksOf(t, r), oldToken); err != nil {
			t.Errorf("replica %d: ID token of the old key no longer verifies right after the switch: %v", i+1, err)
		}
	}

	// retire after the switch, the old key leaves every JWKS.
	for deadline := published.Add(lead + retire + 3*time.Second); ; time.Sleep(50 * time.Millisecond) {
		gone := 0
		for _, r := range rs {
			if set := jwksOf(t, r); len(set.Key(k0)) == 0 {
				gone++
			}
		}
		if gone == len(rs) {
			t.Logf("old key unpublished %v after the new one was published (lead %v + retire %v)",
				time.Since(published).Round(time.Millisecond), lead, retire)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("old key still published long after its successor took over")
		}
	}
	if _, err := verifyIDToken(t, jwksOf(t, rs[2]), oldToken); err == nil {
		t.Error("old ID token still verifies after its key was retired")
	}
	// Retired on time: not before the successor had signed for retire.
	all, err = rs[0].App.Keys.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]keys.KeyInfo{}
	for _, k := range all {
		byID[k.ID] = k
	}
	if r := byID[k0].RetiredAt; r == nil || r.Before(byID[k1].ActiveAt.Add(retire)) {
		t.Errorf("old key retired at %v, its successor active at %v: want at least %v later", r, byID[k1].ActiveAt, retire)
	}

	// The metrics add up: every key beyond the first of each algorithm was
	// added by exactly one replica's rotation, every retired key by one
	// retirement (read again if a rotation was in flight between the reads).
	var rotations, retirements, added, retired float64
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rotations, retirements = 0, 0
		for _, r := range rs {
			rotations += counterValue(t, r.App.stores.keyRotations)
			retirements += counterValue(t, r.App.stores.keyRetirements)
			if n := counterValue(t, r.App.stores.keyRotationErrs); n != 0 {
				t.Errorf("%v failed rotation checks", n)
			}
		}
		if all, err = rs[0].App.Keys.List(ctx); err != nil {
			t.Fatal(err)
		}
		added, retired = float64(len(all)-keysAtStart), 0
		for _, k := range all {
			if k.RetiredAt != nil {
				retired++
			}
		}
		if added == rotations && retired == retirements && rotations >= 1 && retirements >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: %v rotations, %v retirements; store: %v keys added, %v retired", rotations, retirements, added, retired)
		}
	}
}

func TestKeyRotationConfig(t *testing.T) {
	base := Config{Issuer: "http://127.0.0.1:1", Addr: "x", Secret: make([]byte, 32), AccessTokenTTL: time.Hour, RefreshTokenTTL: time.Hour, AuthCodeTTL: time.Minute}
	for _, c := range []struct {
		d  time.Duration
		ok bool
	}{{0, true}, {720 * time.Hour, true}, {12 * time.Minute, true}, {11 * time.Minute, false}, {-time.Hour, false}} {
		cfg := base
		cfg.KeyRotation = c.d
		if err := cfg.ValidateServe(); (err == nil) != c.ok {
			t.Errorf("AUTHD_KEY_ROTATION=%v: %v", c.d, err)
		}
	}
	if kt := base.keyTiming(); kt.lead < 5*time.Minute+kt.refresh || kt.retireAfter < idTokenTTL {
		t.Errorf("default timings %+v: the lead must cover the JWKS max-age plus a reload, retirement the ID token TTL", kt)
	}
	long := base
	long.AccessTokenTTL = 3 * time.Hour
	if kt := long.keyTiming(); kt.retireAfter < 3*time.Hour {
		t.Errorf("retirement after %v with 3h access tokens (they may be JWTs)", kt.retireAfter)
	}
}
