package keys

import (
	"context"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// signWith signs a short JWT with the manager's current signer of alg.
func signWith(t *testing.T, m *Manager, alg string) (kid, raw string) {
	t.Helper()
	kid, key, err := m.Signer(alg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err = jwt.Signed(sig).Claims(jwt.Claims{Subject: "alice"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return kid, raw
}

func TestAutoRotateLifecycle(t *testing.T) {
	ctx := context.Background()
	m, _, clock := clockedManager(t)
	mustEnsure(t, m, ES256)
	p := RotationPolicy{Alg: ES256, Period: 30 * 24 * time.Hour, Lead: 6 * time.Minute, RetireAfter: time.Hour + 5*time.Minute}
	run := func() RotationResult {
		t.Helper()
		res, err := m.AutoRotate(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	clock.Add(p.Period - time.Second)
	if res := run(); res.Rotated != nil || len(res.Retired) > 0 {
		t.Fatalf("before the period: %+v", res)
	}
	oldKID, oldToken := signWith(t, m, ES256)

	clock.Add(time.Second)
	res := run()
	if res.Rotated == nil {
		t.Fatal("no rotation once the newest key is a period old")
	}
	newKID := res.Rotated.ID
	if !res.Rotated.ActiveAt.Equal(clock.Now().Add(p.Lead)) {
		t.Errorf("new key active at %v, want now+lead", res.Rotated.ActiveAt)
	}
	// Published at once, signing only after the lead.
	if kids := publishedKIDs(t, m); !slices.Equal(kids, []string{oldKID, newKID}) {
		t.Fatalf("published %v, want [%s %s]", kids, oldKID, newKID)
	}
	if kid := mustSigner(t, m, ES256); kid != oldKID {
		t.Fatalf("signer during the lead is %s, want the old key", kid)
	}
	if res := run(); res.Rotated != nil || len(res.Retired) > 0 {
		t.Fatalf("a pending key must not trigger another rotation: %+v", res)
	}
	clock.Add(p.Lead - time.Second)
	if kid := mustSigner(t, m, ES256); kid != oldKID {
		t.Fatalf("signer 1s before the lead ends is %s", kid)
	}
	clock.Add(time.Second)
	if kid := mustSigner(t, m, ES256); kid != newKID {
		t.Fatalf("signer after the lead is %s, want %s", kid, newKID)
	}
	// Tokens the old key signed still verify through JWKS...
	if c := verifyJWT(t, fetchJWKS(t, m), oldToken); c.Subject != "alice" {
		t.Fatal("old token did not verify")
	}
	// ...until RetireAfter has passed since the new key took over.
	clock.Add(p.RetireAfter - time.Second)
	if res := run(); len(res.Retired) > 0 {
		t.Fatalf("retired %v too early", res.Retired)
	}
	verifyJWT(t, fetchJWKS(t, m), oldToken)
	clock.Add(time.Second)
	if res := run(); !slices.Equal(res.Retired, []string{oldKID}) || res.Rotated != nil {
		t.Fatalf("at RetireAfter: %+v, want exactly the old key retired", res)
	}
	if kids := publishedKIDs(t, m); !slices.Equal(kids, []string{newKID}) {
		t.Fatalf("published %v after retirement", kids)
	}
	_, newToken := signWith(t, m, ES256)
	verifyJWT(t, fetchJWKS(t, m), newToken)
}

// A replica that was down for several periods rotates once and keeps the
// current signer until the new key takes over.
func TestAutoRotateAfterLongPauseNeverRetiresTheSigner(t *testing.T) {
	ctx := context.Background()
	m, _, clock := clockedManager(t)
	mustEnsure(t, m, RS256)
	kid := mustSigner(t, m, RS256)
	p := RotationPolicy{Alg: RS256, Period: time.Hour, Lead: 10 * time.Minute, RetireAfter: time.Hour}
	clock.Add(100 * time.Hour)
	res, err := m.AutoRotate(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rotated == nil || len(res.Retired) > 0 {
		t.Fatalf("%+v: want one rotation and nothing retired", res)
	}
	if got := mustSigner(t, m, RS256); got != kid {
		t.Fatalf("signer %s, want %s until the lead passes", got, kid)
	}
	clock.Add(p.Lead)
	if res, _ := m.AutoRotate(ctx, p); len(res.Retired) > 0 || res.Rotated != nil {
		t.Fatalf("right after the switch: %+v", res)
	}
}

func TestAutoRotateOnlyTouchesItsAlgorithm(t *testing.T) {
	ctx := context.Background()
	m, _, clock := clockedManager(t)
	mustEnsure(t, m, RS256, ES256)
	es := mustSigner(t, m, ES256)
	p := RotationPolicy{Alg: RS256, Period: time.Hour, Lead: time.Minute, RetireAfter: time.Minute}
	for i := 0; i < 3; i++ {
		clock.Add(time.Hour)
		if _, err := m.AutoRotate(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustSigner(t, m, ES256); got != es {
		t.Fatalf("ES256 signer changed to %s", got)
	}
	if _, ok := m.PublicKey(es); !ok {
		t.Fatal("ES256 key retired by the RS256 policy")
	}
}

func TestAutoRotateRejectsBadPolicy(t *testing.T) {
	m := newTestManager(t, &fakeStore{})
	for _, p := range []RotationPolicy{
		{Alg: "HS256", Period: time.Hour, Lead: time.Minute, RetireAfter: time.Hour},
		{Alg: RS256, Period: 0, Lead: time.Minute, RetireAfter: time.Hour},
		{Alg: RS256, Period: time.Hour, Lead: -time.Minute, RetireAfter: time.Hour},
		{Alg: RS256, Period: time.Hour, Lead: time.Hour, RetireAfter: time.Hour},
		{Alg: RS256, Period: time.Hour, Lead: time.Minute, RetireAfter: 0},
	} {
		if _, err := m.AutoRotate(context.Background(), p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}
