package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	fositejwt "github.com/ory/fosite/token/jwt"

	"github.com/authd/authd/internal/testclock"
	"github.com/authd/authd/storage"
)

var testSecret = []byte("test-system-secret-0123456789abcdef")

// fakeStore is an in-memory fake of Store for the package's pure-logic
// tests. It copies records in and out, like a database would, and counts
// calls so tests can assert that hot paths never reach it.
type fakeStore struct {
	mu       sync.Mutex
	keys     []storage.SigningKey
	calls    atomic.Int64
	failList error // when set, ListSigningKeys returns it
}

var _ Store = (*fakeStore)(nil)

func copyKey(k storage.SigningKey) storage.SigningKey {
	k.PrivateKeyEncrypted = bytes.Clone(k.PrivateKeyEncrypted)
	k.PublicKeyPEM = bytes.Clone(k.PublicKeyPEM)
	if k.RetiredAt != nil {
		t := *k.RetiredAt
		k.RetiredAt = &t
	}
	return k
}

func (f *fakeStore) InsertSigningKey(_ context.Context, k *storage.SigningKey) error {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.keys {
		if e.ID == k.ID {
			return storage.ErrConflict
		}
	}
	f.keys = append(f.keys, copyKey(*k))
	return nil
}

func (f *fakeStore) ListSigningKeys(context.Context) ([]storage.SigningKey, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failList != nil {
		return nil, f.failList
	}
	out := make([]storage.SigningKey, len(f.keys))
	for i, k := range f.keys {
		out[i] = copyKey(k)
	}
	slices.SortStableFunc(out, func(a, b storage.SigningKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (f *fakeStore) RetireSigningKey(_ context.Context, id string, at time.Time) error {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.keys {
		if f.keys[i].ID == id {
			f.keys[i].RetiredAt = &at
			return nil
		}
	}
	return storage.ErrNotFound
}

// records returns a copy of what is stored, bypassing the call counter.
func (f *fakeStore) records() []storage.SigningKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]storage.SigningKey, len(f.keys))
	for i, k := range f.keys {
		out[i] = copyKey(k)
	}
	return out
}

func (f *fakeStore) edit(fn func(ks []storage.SigningKey)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.keys)
}

// newTestClock is a settable clock for WithClock.
func newTestClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestManager(t testing.TB, store Store, opts ...Option) *Manager {
	t.Helper()
	opts = append([]Option{WithLogger(quietLogger())}, opts...)
	m, err := New(store, testSecret, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

// clockedManager is a manager on an empty fake store whose clock the test
// moves.
func clockedManager(t testing.TB) (*Manager, *fakeStore, *testclock.Clock) {
	t.Helper()
	clock := newTestClock()
	store := &fakeStore{}
	return newTestManager(t, store, WithClock(clock.Now)), store, clock
}

func mustEnsure(t testing.TB, m *Manager, algs ...string) {
	t.Helper()
	for _, alg := range algs {
		if err := m.EnsureKey(context.Background(), alg); err != nil {
			t.Fatalf("EnsureKey(%s): %v", alg, err)
		}
	}
}

func mustSigner(t testing.TB, m *Manager, alg string) string {
	t.Helper()
	kid, _, err := m.Signer(alg)
	if err != nil {
		t.Fatalf("Signer(%s): %v", alg, err)
	}
	return kid
}

// publishedKIDs parses the served JWKS and returns its kids.
func publishedKIDs(t *testing.T, m *Manager) []string {
	t.Helper()
	body, _ := m.JWKS()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("parse JWKS: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestNewRejectsShortSecret(t *testing.T) {
	if _, err := New(&fakeStore{}, make([]byte, MinSecretLen-1)); err == nil {
		t.Fatal("New accepted a 31-byte secret")
	}
	if _, err := New(nil, testSecret); err == nil {
		t.Fatal("New accepted a nil store")
	}
}

func TestStoredRecordHasNoClearPrivateKey(t *testing.T) {
	store := &fakeStore{}
	m := newTestManager(t, store)
	mustEnsure(t, m, RS256, ES256)

	recs := store.records()
	if len(recs) != 2 {
		t.Fatalf("stored %d keys, want 2", len(recs))
	}
	for _, rec := range recs {
		_, signer, err := m.Signer(rec.Alg)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(signer)
		if err != nil {
			t.Fatal(err)
		}
		// The clear private key in any form it could leak as: PKCS#8 DER,
		// its base64 (a PEM body), and the bare private scalar.
		var scalar []byte
		switch k := signer.(type) {
		case *rsa.PrivateKey:
			scalar = k.D.Bytes()
		case *ecdsa.PrivateKey:
			scalar, _ = k.Bytes()
		}
		needles := map[string][]byte{
			"PKCS#8 DER":    der,
			"PKCS#8 base64": []byte(base64.StdEncoding.EncodeToString(der)[:64]),
			"scalar":        scalar,
		}
		fields := map[string][]byte{
			"PrivateKeyEncrypted": rec.PrivateKeyEncrypted,
			"PublicKeyPEM":        rec.PublicKeyPEM,
			"ID":                  []byte(rec.ID),
		}
		for fn, field := range fields {
			for nn, needle := range needles {
				if bytes.Contains(field, needle) {
					t.Errorf("%s key: %s contains the %s", rec.Alg, fn, nn)
				}
			}
		}
		if rec.PrivateKeyEncrypted[0] != envelopeV1 {
			t.Errorf("%s key: envelope version %d, want %d", rec.Alg, rec.PrivateKeyEncrypted[0], envelopeV1)
		}
		pub, err := parsePublicKeyPEM(rec.PublicKeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()) {
			t.Errorf("%s key: PublicKeyPEM is not the signer's public key", rec.Alg)
		}
	}
}

func TestLoadWithWrongSecretFails(t *testing.T) {
	store := &fakeStore{}
	mustEnsure(t, newTestManager(t, store), ES256)

	other, err := New(store, []byte("another-system-secret-0123456789abcdef"), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	err = other.Load(context.Background())
	if !errors.Is(err, ErrSealed) {
		t.Fatalf("Load with the wrong secret: %v, want ErrSealed", err)
	}
	if _, _, err := other.Signer(ES256); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Signer after failed Load: %v, want ErrNoKey", err)
	}
}

func TestLoadRejectsTamperedRecords(t *testing.T) {
	ctx := context.Background()
	t.Run("ciphertext moved to another kid", func(t *testing.T) {
		store := &fakeStore{}
		m := newTestManager(t, store)
		mustEnsure(t, m, ES256)
		if _, err := m.Rotate(ctx, ES256, 0); err != nil {
			t.Fatal(err)
		}
		store.edit(func(ks []storage.SigningKey) {
			ks[0].PrivateKeyEncrypted, ks[1].PrivateKeyEncrypted = ks[1].PrivateKeyEncrypted, ks[0].PrivateKeyEncrypted
			ks[0].PublicKeyPEM, ks[1].PublicKeyPEM = ks[1].PublicKeyPEM, ks[0].PublicKeyPEM
		})
		if err := m.Load(ctx); !errors.Is(err, ErrSealed) {
			t.Fatalf("Load: %v, want ErrSealed (the kid is the AAD)", err)
		}
	})
	t.Run("public key swapped", func(t *testing.T) {
		store := &fakeStore{}
		m := newTestManager(t, store)
		mustEnsure(t, m, ES256)
		other, _ := Generate(ES256)
		pemBytes, err := publicKeyPEM(other.Public())
		if err != nil {
			t.Fatal(err)
		}
		store.edit(func(ks []storage.SigningKey) { ks[0].PublicKeyPEM = pemBytes })
		if err := m.Load(ctx); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("Load: %v, want a public key mismatch", err)
		}
	})
	t.Run("alg does not match key", func(t *testing.T) {
		store := &fakeStore{}
		m := newTestManager(t, store)
		mustEnsure(t, m, ES256)
		store.edit(func(ks []storage.SigningKey) { ks[0].Alg = RS256 })
		if err := m.Load(ctx); err == nil {
			t.Fatal("Load accepted an ES256 key recorded as RS256")
		}
	})
}

func TestLoadSkipsUnknownAlg(t *testing.T) {
	store := &fakeStore{}
	m := newTestManager(t, store)
	mustEnsure(t, m, ES256)
	store.edit(func(ks []storage.SigningKey) {
		// A key written by a newer version during a rolling upgrade.
		ks[0].ID, ks[0].Alg = "future", "EdDSA"
	})
	_ = store.InsertSigningKey(context.Background(), &storage.SigningKey{ID: "x", Alg: "EdDSA"})
	if err := m.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if kids := publishedKIDs(t, m); len(kids) != 0 {
		t.Fatalf("published %v, want nothing", kids)
	}
}

func TestJWKSContainsOnlyPublicKeys(t *testing.T) {
	m := newTestManager(t, &fakeStore{})
	mustEnsure(t, m, RS256, ES256)

	body, _ := m.JWKS()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2: %s", len(doc.Keys), body)
	}
	algs := map[string]bool{}
	for _, k := range doc.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v has private member %q", k["kid"], private)
			}
		}
		if kid, _ := k["kid"].(string); kid == "" {
			t.Errorf("key without kid: %v", k)
		}
		if k["use"] != "sig" {
			t.Errorf("key %v: use = %v, want sig", k["kid"], k["use"])
		}
		alg, _ := k["alg"].(string)
		algs[alg] = true
		wantKty := map[string]string{RS256: "RSA", ES256: "EC"}[alg]
		if k["kty"] != wantKty {
			t.Errorf("key %v: kty = %v, want %s", k["kid"], k["kty"], wantKty)
		}
	}
	if !algs[RS256] || !algs[ES256] {
		t.Errorf("algs %v, want RS256 and ES256", algs)
	}

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %s: public=%v valid=%v", k.KeyID, k.IsPublic(), k.Valid())
		}
	}
}

// fetchJWKS gets the JWKS the way a relying party would and parses it with
// go-jose v4.
func fetchJWKS(t *testing.T, m *Manager) jose.JSONWebKeySet {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(m.ServeJWKS))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET JWKS: %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

// verifyJWT checks raw against set like a relying party: the kid picks the
// key, whose alg must be the token's.
func verifyJWT(t *testing.T, set jose.JSONWebKeySet, raw string) jwt.Claims {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	h := tok.Headers[0]
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != "JWT" {
		t.Errorf("typ = %v, want JWT", typ)
	}
	ks := set.Key(h.KeyID)
	if len(ks) != 1 {
		t.Fatalf("JWKS has %d keys with kid %q", len(ks), h.KeyID)
	}
	if ks[0].Algorithm != h.Algorithm {
		t.Fatalf("JWK alg %s, token alg %s", ks[0].Algorithm, h.Algorithm)
	}
	var c jwt.Claims
	if err := tok.Claims(ks[0], &c); err != nil {
		t.Fatalf("verify JWT: %v", err)
	}
	return c
}

func TestJWTSignedWithSignerVerifiesAgainstJWKS(t *testing.T) {
	m := newTestManager(t, &fakeStore{})
	mustEnsure(t, m, RS256, ES256)
	set := fetchJWKS(t, m)

	for _, alg := range []string{RS256, ES256} {
		t.Run(alg, func(t *testing.T) {
			kid, key, err := m.Signer(alg)
			if err != nil {
				t.Fatal(err)
			}
			// fosite needs the raw key types.
			switch key.(type) {
			case *rsa.PrivateKey:
				if alg != RS256 {
					t.Fatalf("%s signer is %T", alg, key)
				}
			case *ecdsa.PrivateKey:
				if alg != ES256 {
					t.Fatalf("%s signer is %T", alg, key)
				}
			default:
				t.Fatalf("signer is %T, want a raw crypto key", key)
			}
			sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
			if err != nil {
				t.Fatal(err)
			}
			want := jwt.Claims{Issuer: "https://authd.test", Subject: "alice", Expiry: jwt.NewNumericDate(time.Now().Add(time.Minute))}
			raw, err := jwt.Signed(sig).Claims(want).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			got := verifyJWT(t, set, raw)
			if err := got.Validate(jwt.Expected{Issuer: want.Issuer, Subject: want.Subject}); err != nil {
				t.Fatal(err)
			}

			// The same through the PublicKey lookup.
			tok, _ := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			jwk, ok := m.PublicKey(kid)
			if !ok {
				t.Fatalf("PublicKey(%s) not found", kid)
			}
			if err := tok.Claims(jwk, &got); err != nil {
				t.Fatalf("verify with PublicKey: %v", err)
			}
			// And not with the other algorithm's key.
			otherAlg := map[string]string{RS256: ES256, ES256: RS256}[alg]
			otherKID, _, _ := m.Signer(otherAlg)
			otherJWK, _ := m.PublicKey(otherKID)
			if err := tok.Claims(otherJWK, &got); err == nil {
				t.Fatal("token verified with another key")
			}
		})
	}
}

// fosite v0.49 signs with go-jose v3; it must accept the raw key Signer
// hands out, and what it signs must verify against our go-jose v4 JWKS.
func TestFositeSignerAcceptsKey(t *testing.T) {
	m := newTestManager(t, &fakeStore{})
	mustEnsure(t, m, RS256, ES256)
	set := fetchJWKS(t, m)
	for _, alg := range []string{RS256, ES256} {
		t.Run(alg, func(t *testing.T) {
			kid := mustSigner(t, m, alg)
			signer := &fositejwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) {
				_, k, err := m.Signer(alg)
				return k, err
			}}
			raw, _, err := signer.Generate(context.Background(),
				fositejwt.MapClaims{"iss": "https://authd.test", "sub": "bob"},
				&fositejwt.Headers{Extra: map[string]any{"kid": kid, "typ": "JWT"}})
			if err != nil {
				t.Fatalf("fosite Generate: %v", err)
			}
			if c := verifyJWT(t, set, raw); c.Subject != "bob" {
				t.Fatalf("sub = %q", c.Subject)
			}
		})
	}
}

func TestRotateKeepsOldKeyAndSwitchesAtActiveAt(t *testing.T) {
	ctx := context.Background()
	m, _, clock := clockedManager(t)
	mustEnsure(t, m, ES256)
	oldKID := mustSigner(t, m, ES256)

	clock.Add(time.Minute)
	rec, err := m.Rotate(ctx, ES256, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rec.PrivateKeyEncrypted != nil {
		t.Error("Rotate returned private material")
	}
	if want := clock.Now().Add(time.Hour); !rec.ActiveAt.Equal(want) {
		t.Errorf("ActiveAt = %v, want %v", rec.ActiveAt, want)
	}
	if kids := publishedKIDs(t, m); !slices.Equal(kids, []string{oldKID, rec.ID}) {
		t.Fatalf("published %v, want [old new] = [%s %s]", kids, oldKID, rec.ID)
	}

	clock.Add(time.Hour - time.Second)
	if kid := mustSigner(t, m, ES256); kid != oldKID {
		t.Fatalf("before ActiveAt the signer is %s, want the old key", kid)
	}
	clock.Add(time.Second) // exactly ActiveAt
	if kid := mustSigner(t, m, ES256); kid != rec.ID {
		t.Fatalf("at ActiveAt the signer is %s, want the new key %s", kid, rec.ID)
	}
	if _, ok := m.PublicKey(oldKID); !ok {
		t.Fatal("old key no longer published after rotation")
	}

	infos, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].ID != oldKID || infos[0].Current || !infos[1].Current || infos[1].RetiredAt != nil {
		t.Fatalf("List = %+v", infos)
	}
	out, _ := json.Marshal(infos)
	for _, member := range []string{`"kid"`, `"alg"`, `"created_at"`, `"active_at"`, `"current"`} {
		if !bytes.Contains(out, []byte(member)) {
			t.Errorf("List JSON lacks %s: %s", member, out)
		}
	}

	// Retiring the old key unpublishes it; the signer is unaffected.
	if err := retire(ctx, m, oldKID); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.PublicKey(oldKID); ok {
		t.Fatal("retired key still published")
	}
	if kids := publishedKIDs(t, m); !slices.Equal(kids, []string{rec.ID}) {
		t.Fatalf("published %v after retiring the old key", kids)
	}
	if kid := mustSigner(t, m, ES256); kid != rec.ID {
		t.Fatalf("signer %s after retirement", kid)
	}
	infos, _ = m.List(ctx)
	if infos[0].RetiredAt == nil || !infos[0].RetiredAt.Equal(clock.Now()) {
		t.Fatalf("List after Retire: %+v", infos[0])
	}
}

// retire retires kid in the manager's store and reloads the manager, as
// AutoRotate does (or a Load after another replica retired it).
func retire(ctx context.Context, m *Manager, kid string) error {
	if err := m.store.RetireSigningKey(ctx, kid, m.timestamp()); err != nil {
		return err
	}
	return m.Load(ctx)
}

func TestRotateImmediately(t *testing.T) {
	m := newTestManager(t, &fakeStore{})
	mustEnsure(t, m, RS256)
	rec, err := m.Rotate(context.Background(), RS256, 0)
	if err != nil {
		t.Fatal(err)
	}
	if kid := mustSigner(t, m, RS256); kid != rec.ID {
		t.Fatalf("signer %s, want the new key %s", kid, rec.ID)
	}
}

func TestRotateRejectsBadInput(t *testing.T) {
	m := newTestManager(t, &fakeStore{})
	if _, err := m.Rotate(context.Background(), ES256, -time.Second); err == nil {
		t.Error("negative lead accepted")
	}
	if _, err := m.Rotate(context.Background(), "HS256", 0); !errors.Is(err, ErrUnsupportedAlg) {
		t.Errorf("HS256: %v, want ErrUnsupportedAlg", err)
	}
	if err := m.EnsureKey(context.Background(), "none"); !errors.Is(err, ErrUnsupportedAlg) {
		t.Errorf("EnsureKey(none): %v, want ErrUnsupportedAlg", err)
	}
}

func TestSignerWithoutActiveKey(t *testing.T) {
	m, _, _ := clockedManager(t)
	if _, _, err := m.Signer(ES256); !errors.Is(err, ErrNoKey) {
		t.Fatalf("before Load: %v, want ErrNoKey", err)
	}
	if _, err := m.Rotate(context.Background(), ES256, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Signer(ES256); !errors.Is(err, ErrNoKey) {
		t.Fatalf("only a future key: %v, want ErrNoKey", err)
	}
	if _, _, err := m.Signer(RS256); !errors.Is(err, ErrNoKey) {
		t.Fatalf("other alg: %v, want ErrNoKey", err)
	}
}

func TestEnsureKeyIsIdempotent(t *testing.T) {
	ctx := context.Background()
	m, store, clock := clockedManager(t)

	mustEnsure(t, m, ES256, ES256)
	if n := len(store.records()); n != 1 {
		t.Fatalf("two EnsureKey calls stored %d keys, want 1", n)
	}
	kid := mustSigner(t, m, ES256)

	// A second replica sharing the store reuses the key.
	mustEnsure(t, newTestManager(t, store, WithClock(clock.Now)), ES256)
	if n := len(store.records()); n != 1 {
		t.Fatalf("a second replica's EnsureKey stored %d keys, want 1", n)
	}

	mustEnsure(t, m, RS256)
	if n := len(store.records()); n != 2 {
		t.Fatalf("EnsureKey(RS256) left %d keys, want 2", n)
	}

	// A retired key does not count.
	if err := retire(ctx, m, kid); err != nil {
		t.Fatal(err)
	}
	mustEnsure(t, m, ES256)
	if n := len(store.records()); n != 3 {
		t.Fatalf("after retiring, EnsureKey left %d keys, want 3", n)
	}
	if mustSigner(t, m, ES256) == kid {
		t.Fatal("retired key still signs")
	}

	// Nor does one that is not active yet: EnsureKey promises a signer now.
	store2 := &fakeStore{}
	m2 := newTestManager(t, store2, WithClock(clock.Now))
	if _, err := m2.Rotate(ctx, ES256, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustEnsure(t, m2, ES256)
	if n := len(store2.records()); n != 2 {
		t.Fatalf("EnsureKey with only a future key left %d keys, want 2", n)
	}
}

func TestHotPathsDoNotTouchStore(t *testing.T) {
	store := &fakeStore{}
	m := newTestManager(t, store)
	mustEnsure(t, m, RS256, ES256)
	before := store.calls.Load()

	kid := mustSigner(t, m, RS256)
	mustSigner(t, m, ES256)
	m.PublicKey(kid)
	m.JWKS()
	m.ServeJWKS(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/jwks", nil))

	if n := store.calls.Load() - before; n != 0 {
		t.Fatalf("hot paths made %d store calls", n)
	}
}

func TestFailedReloadKeepsSnapshot(t *testing.T) {
	store := &fakeStore{}
	m := newTestManager(t, store)
	mustEnsure(t, m, ES256)
	body, etag := m.JWKS()

	store.mu.Lock()
	store.failList = errors.New("database is down")
	store.mu.Unlock()
	if err := m.Load(context.Background()); err == nil {
		t.Fatal("Load succeeded with a failing store")
	}
	if b, e := m.JWKS(); e != etag || !bytes.Equal(b, body) {
		t.Fatal("a failed Load changed the JWKS")
	}
	mustSigner(t, m, ES256)
}

func TestRefreshPicksUpRotationFromAnotherReplica(t *testing.T) {
	store := &fakeStore{}
	a := newTestManager(t, store)
	b := newTestManager(t, store)
	mustEnsure(t, a, ES256)
	mustEnsure(t, b, ES256)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Refresh(ctx, 5*time.Millisecond) }()

	rec, err := a.Rotate(context.Background(), ES256, 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := b.PublicKey(rec.ID); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica b never loaded the rotated key")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if kid := mustSigner(t, b, ES256); kid != rec.ID {
		t.Fatalf("replica b signs with %s, want %s", kid, rec.ID)
	}
	_, etagA := a.JWKS()
	_, etagB := b.JWKS()
	if etagA != etagB {
		t.Fatalf("replicas serve different ETags: %s vs %s", etagA, etagB)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Refresh returned %v", err)
	}
	if err := b.Refresh(context.Background(), 0); err == nil {
		t.Fatal("Refresh accepted a zero interval")
	}
}

// Run with -race: readers never block on, or observe a half-built, reload.
func TestConcurrentReadsDuringRotation(t *testing.T) {
	m := newTestManager(t, &fakeStore{})
	mustEnsure(t, m, ES256)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				kid, _, err := m.Signer(ES256)
				if err != nil {
					t.Error(err)
					return
				}
				if _, ok := m.PublicKey(kid); !ok {
					t.Error("signer's key not published")
					return
				}
				rec := httptest.NewRecorder()
				m.ServeJWKS(rec, httptest.NewRequest(http.MethodGet, "/jwks", nil))
				if rec.Code != http.StatusOK {
					t.Errorf("ServeJWKS: %d", rec.Code)
					return
				}
				_, _ = io.Copy(io.Discard, rec.Body)
			}
		})
	}
	for range 5 {
		if _, err := m.Rotate(context.Background(), ES256, 0); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}
