package postgres_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/storagetest"
)

// t0 is a fixed, microsecond-aligned instant so stored times compare equal.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)

func TestDB(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, db *postgres.DB)
	}{
		{"ClientCRUD", testClientCRUD},
		{"Users", testUsers},
		{"GrantCreatedTwice", testGrantCreatedTwice},
		{"RevokeKeepsFirstReason", testRevokeKeepsFirstReason},
		{"TouchGrants", testTouchGrants},
		{"ListGrants", testListGrants},
		{"DeleteClientRevokesGrantsAndConsents", testDeleteClient},
		{"Consents", testConsents},
		{"ListAndDeleteConsents", testListDeleteConsents},
		{"SigningKeys", testSigningKeys},
		{"MigrateTwice", testMigrateTwice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, t.Context(), storagetest.Postgres(t))
		})
	}
}

func mustNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("%s: err = %v; want ErrNotFound", what, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newClient(id string) *storage.Client {
	return &storage.Client{
		ID:                      id,
		Name:                    "Client " + id,
		SecretHash:              []byte("sha256$x"),
		RedirectURIs:            []string{"https://app.example/cb"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "offline_access"},
		Audience:                []string{"https://api.example/"},
		Resource:                "https://rs.example/",
		Introspect:              true,
		TokenEndpointAuthMethod: "client_secret_post",
	}
}

func newGrant(id, subject string) *storage.Grant {
	return &storage.Grant{
		ID:        id,
		Subject:   subject,
		ClientID:  "app",
		Scopes:    []string{"openid", "offline_access"},
		Flow:      "authorization_code",
		UserAgent: "curl/8",
		FirstIP:   "192.0.2.1",
		CreatedAt: t0,
		ExpiresAt: t0.Add(30 * 24 * time.Hour),
	}
}

func testClientCRUD(t *testing.T, ctx context.Context, db *postgres.DB) {
	c := newClient("app")
	must(t, db.CreateClient(ctx, c))
	if c.CreatedAt.IsZero() {
		t.Error("CreatedAt not set")
	}
	if err := db.CreateClient(ctx, newClient("app")); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate CreateClient: err = %v; want ErrConflict", err)
	}
	pub := &storage.Client{ID: "cli", Public: true} // nil slices, no secret
	must(t, db.CreateClient(ctx, pub))

	got, err := db.GetClient(ctx, "app")
	must(t, err)
	if !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID || got.Name != c.Name ||
		string(got.SecretHash) != string(c.SecretHash) || got.Public ||
		!slices.Equal(got.RedirectURIs, c.RedirectURIs) || !slices.Equal(got.GrantTypes, c.GrantTypes) ||
		!slices.Equal(got.ResponseTypes, c.ResponseTypes) || !slices.Equal(got.Scopes, c.Scopes) ||
		!slices.Equal(got.Audience, c.Audience) || got.Resource != c.Resource || !got.Introspect ||
		got.TokenEndpointAuthMethod != "client_secret_post" {
		t.Errorf("GetClient = %+v; want %+v", got, c)
	}
	gotPub, err := db.GetClient(ctx, "cli")
	must(t, err)
	if !gotPub.Public || gotPub.SecretHash != nil || gotPub.RedirectURIs == nil || len(gotPub.RedirectURIs) != 0 {
		t.Errorf("public client = %+v; want Public, nil secret, empty (non-nil) slices", gotPub)
	}

	_, err = db.GetClient(ctx, "nope")
	mustNotFound(t, "GetClient(nope)", err)

	list, err := db.ListClients(ctx)
	must(t, err)
	if len(list) != 2 || list[0].ID != "app" || list[1].ID != "cli" {
		t.Errorf("ListClients = %+v; want app, cli", list)
	}

	must(t, db.DeleteClient(ctx, "app"))
	_, err = db.GetClient(ctx, "app")
	mustNotFound(t, "GetClient after delete", err)
	mustNotFound(t, "DeleteClient twice", db.DeleteClient(ctx, "app"))
}

func testUsers(t *testing.T, ctx context.Context, db *postgres.DB) {
	alice := &storage.User{Username: "alice", PasswordHash: "$argon2id$..."}
	must(t, db.CreateUser(ctx, alice))
	if alice.ID == "" {
		t.Fatal("CreateUser did not set an ID")
	}
	bob := &storage.User{ID: "bob-id", Username: "bob", PasswordHash: "h"}
	must(t, db.CreateUser(ctx, bob))

	err := db.CreateUser(ctx, &storage.User{Username: "alice", PasswordHash: "h"})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate username: err = %v; want ErrConflict", err)
	}

	got, err := db.GetUserByUsername(ctx, "alice")
	must(t, err)
	if got.ID != alice.ID || got.PasswordHash != alice.PasswordHash || !got.CreatedAt.Equal(alice.CreatedAt) {
		t.Errorf("GetUserByUsername = %+v; want %+v", got, alice)
	}
	got, err = db.GetUser(ctx, "bob-id")
	must(t, err)
	if got.Username != "bob" {
		t.Errorf("GetUser(bob-id) = %+v", got)
	}
	_, err = db.GetUser(ctx, "nope")
	mustNotFound(t, "GetUser(nope)", err)
	_, err = db.GetUserByUsername(ctx, "Alice")
	mustNotFound(t, "GetUserByUsername(Alice)", err)

	users, err := db.ListUsers(ctx)
	must(t, err)
	if len(users) != 2 || users[0].Username != "alice" || users[1].Username != "bob" {
		t.Errorf("ListUsers = %+v; want alice, bob", users)
	}
}

func testGrantCreatedTwice(t *testing.T, ctx context.Context, db *postgres.DB) {
	g := newGrant("g1", "alice")
	must(t, db.CreateGrant(ctx, g))
	again := newGrant("g1", "alice")
	again.UserAgent = "other"
	must(t, db.CreateGrant(ctx, again))

	n, err := db.CountGrants(ctx, "alice")
	must(t, err)
	if n != 1 {
		t.Fatalf("CountGrants = %d; want 1 row for a family created twice", n)
	}
	got, err := db.GetGrant(ctx, "g1")
	must(t, err)
	if got.UserAgent != "curl/8" || got.LastIP != "192.0.2.1" || !got.LastUsedAt.Equal(t0) ||
		!got.CreatedAt.Equal(t0) || got.RevokedAt != nil || got.RevokeReason != "" ||
		!slices.Equal(got.Scopes, g.Scopes) || got.Flow != "authorization_code" || got.ClientID != "app" {
		t.Errorf("GetGrant = %+v; want the first insert with defaults", got)
	}
	_, err = db.GetGrant(ctx, "nope")
	mustNotFound(t, "GetGrant(nope)", err)
	if err := db.CreateGrant(ctx, &storage.Grant{ID: "g2"}); err == nil {
		t.Error("CreateGrant without ExpiresAt succeeded")
	}
}

func testRevokeKeepsFirstReason(t *testing.T, ctx context.Context, db *postgres.DB) {
	must(t, db.CreateGrant(ctx, newGrant("g1", "alice")))

	first := t0.Add(time.Hour)
	g, err := db.RevokeGrant(ctx, "g1", storage.RevokedReuse, first)
	must(t, err)
	if g.RevokedAt == nil || !g.RevokedAt.Equal(first) || g.RevokeReason != storage.RevokedReuse {
		t.Fatalf("first revoke = %v %q", g.RevokedAt, g.RevokeReason)
	}
	g, err = db.RevokeGrant(ctx, "g1", storage.RevokedByUser, first.Add(time.Hour))
	must(t, err)
	if g.RevokedAt == nil || !g.RevokedAt.Equal(first) || g.RevokeReason != storage.RevokedReuse {
		t.Fatalf("second revoke = %v %q; want the first time and reason kept", g.RevokedAt, g.RevokeReason)
	}
	_, err = db.RevokeGrant(ctx, "nope", storage.RevokedByUser, first)
	mustNotFound(t, "RevokeGrant(nope)", err)

	// Concurrent revocations: every caller sees the same, single revocation.
	must(t, db.CreateGrant(ctx, newGrant("g2", "alice")))
	var wg sync.WaitGroup
	results := make([]storage.Grant, 8)
	for i := range results {
		wg.Go(func() {
			g, err := db.RevokeGrant(ctx, "g2", "r"+string(rune('a'+i)), t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Error(err)
			}
			results[i] = g
		})
	}
	wg.Wait()
	for _, r := range results[1:] {
		if r.RevokedAt == nil || !r.RevokedAt.Equal(*results[0].RevokedAt) || r.RevokeReason != results[0].RevokeReason {
			t.Fatalf("concurrent revokes disagree: %v %q vs %v %q",
				r.RevokedAt, r.RevokeReason, results[0].RevokedAt, results[0].RevokeReason)
		}
	}
}

func testTouchGrants(t *testing.T, ctx context.Context, db *postgres.DB) {
	must(t, db.CreateGrant(ctx, newGrant("g1", "alice")))
	must(t, db.CreateGrant(ctx, newGrant("g2", "alice")))
	must(t, db.CreateGrant(ctx, newGrant("g3", "alice")))

	must(t, db.TouchGrants(ctx, []storage.GrantUsage{
		{ID: "g1", IP: "198.51.100.1", At: t0.Add(time.Minute)},
		{ID: "g1", IP: "198.51.100.2", At: t0.Add(2 * time.Minute)}, // latest wins
		{ID: "g1", IP: "198.51.100.3", At: t0.Add(30 * time.Second)},
		{ID: "g2", IP: "203.0.113.9", At: t0.Add(-time.Minute)}, // backwards: ignored
		{ID: "g3", At: t0.Add(time.Hour)},                       // no IP: keep it
		{ID: "unknown", IP: "x", At: t0.Add(time.Hour)},
	}))

	for _, want := range []struct {
		id, ip, ua string
		lastUsed   time.Time
	}{
		{"g1", "198.51.100.2", "curl/8", t0.Add(2 * time.Minute)}, // the device stays
		{"g2", "192.0.2.1", "curl/8", t0},
		{"g3", "192.0.2.1", "curl/8", t0.Add(time.Hour)},
	} {
		g, err := db.GetGrant(ctx, want.id)
		must(t, err)
		if g.LastIP != want.ip || g.UserAgent != want.ua || !g.LastUsedAt.Equal(want.lastUsed) || g.FirstIP != "192.0.2.1" {
			t.Errorf("grant %s: last_ip %q ua %q last_used %v first_ip %q; want %q %q %v",
				want.id, g.LastIP, g.UserAgent, g.LastUsedAt, g.FirstIP, want.ip, want.ua, want.lastUsed)
		}
	}

	// An older batch arriving late does not move anything back.
	must(t, db.TouchGrants(ctx, []storage.GrantUsage{{ID: "g1", IP: "old", At: t0.Add(time.Minute)}}))
	g, err := db.GetGrant(ctx, "g1")
	must(t, err)
	if g.LastIP != "198.51.100.2" || !g.LastUsedAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("late batch moved g1 back: %q %v", g.LastIP, g.LastUsedAt)
	}
	must(t, db.TouchGrants(ctx, nil))
}

func testListGrants(t *testing.T, ctx context.Context, db *postgres.DB) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	mk := func(id string, lastUsed time.Time) *storage.Grant {
		g := newGrant(id, "alice")
		g.CreatedAt = now.Add(-24 * time.Hour)
		g.LastUsedAt = lastUsed
		g.ExpiresAt = now.Add(24 * time.Hour)
		return g
	}
	must(t, db.CreateGrant(ctx, mk("old", now.Add(-3*time.Hour))))
	must(t, db.CreateGrant(ctx, mk("new", now.Add(-1*time.Hour))))
	must(t, db.CreateGrant(ctx, mk("mid", now.Add(-2*time.Hour))))
	revoked := mk("revoked", now.Add(-10*time.Minute))
	must(t, db.CreateGrant(ctx, revoked))
	_, err := db.RevokeGrant(ctx, "revoked", storage.RevokedByUser, now)
	must(t, err)
	expired := mk("expired", now.Add(-5*time.Minute))
	expired.ExpiresAt = now.Add(-time.Minute)
	must(t, db.CreateGrant(ctx, expired))
	must(t, db.CreateGrant(ctx, newGrant("bobs", "bob")))

	ids := func(gs []storage.Grant) []string {
		var out []string
		for _, g := range gs {
			out = append(out, g.ID)
		}
		return out
	}
	all, err := db.ListGrants(ctx, "alice")
	must(t, err)
	if want := []string{"expired", "revoked", "new", "mid", "old"}; !slices.Equal(ids(all), want) {
		t.Errorf("ListGrants(all) = %v; want %v", ids(all), want)
	}
	// The rows say which grants are active: neither revoked nor expired.
	active := slices.DeleteFunc(slices.Clone(all), func(g storage.Grant) bool {
		return g.RevokedAt != nil || !g.ExpiresAt.After(now)
	})
	if want := []string{"new", "mid", "old"}; !slices.Equal(ids(active), want) {
		t.Errorf("ListGrants(active) = %v; want %v", ids(active), want)
	}
	n, err := db.CountGrants(ctx, "alice")
	must(t, err)
	if n != 5 {
		t.Errorf("CountGrants = %d; want 5", n)
	}
	none, err := db.ListGrants(ctx, "nobody")
	must(t, err)
	if len(none) != 0 {
		t.Errorf("ListGrants(nobody) = %v", none)
	}
}

func testDeleteClient(t *testing.T, ctx context.Context, db *postgres.DB) {
	must(t, db.CreateClient(ctx, newClient("app")))
	must(t, db.CreateGrant(ctx, newGrant("g1", "alice")))
	must(t, db.SaveConsent(ctx, "alice", "app", []string{"openid"}))

	must(t, db.DeleteClient(ctx, "app"))
	g, err := db.GetGrant(ctx, "g1")
	must(t, err)
	if g.RevokedAt == nil || g.RevokeReason != storage.RevokedByAdmin {
		t.Errorf("grant of deleted client: revoked %v reason %q; want revoked by admin", g.RevokedAt, g.RevokeReason)
	}
	_, err = db.GetConsent(ctx, "alice", "app")
	mustNotFound(t, "consent of deleted client", err)
}

func testConsents(t *testing.T, ctx context.Context, db *postgres.DB) {
	must(t, db.CreateClient(ctx, newClient("app")))
	_, err := db.GetConsent(ctx, "alice", "app")
	mustNotFound(t, "GetConsent before save", err)

	must(t, db.SaveConsent(ctx, "alice", "app", []string{"profile", "openid", "openid"}))
	must(t, db.SaveConsent(ctx, "alice", "app", []string{"email", "openid"}))
	got, err := db.GetConsent(ctx, "alice", "app")
	must(t, err)
	if want := []string{"email", "openid", "profile"}; !slices.Equal(got, want) {
		t.Errorf("GetConsent = %v; want union %v", got, want)
	}
	_, err = db.GetConsent(ctx, "bob", "app")
	mustNotFound(t, "GetConsent(bob)", err)

	mustNotFound(t, "SaveConsent(unknown client)", db.SaveConsent(ctx, "alice", "nope", []string{"openid"}))
}

func testListDeleteConsents(t *testing.T, ctx context.Context, db *postgres.DB) {
	must(t, db.CreateClient(ctx, newClient("app")))
	must(t, db.CreateClient(ctx, newClient("cli")))
	must(t, db.SaveConsent(ctx, "alice", "app", []string{"openid", "offline_access"}))
	must(t, db.SaveConsent(ctx, "alice", "cli", []string{"openid"}))
	must(t, db.SaveConsent(ctx, "bob", "app", []string{"openid"}))
	cs, err := db.ListConsents(ctx, "alice")
	must(t, err)
	if len(cs) != 2 || cs[0].ClientID != "app" || cs[0].ClientName != "Client app" || cs[0].Subject != "alice" ||
		!slices.Equal(cs[0].Scopes, []string{"offline_access", "openid"}) || cs[0].CreatedAt.IsZero() || cs[1].ClientID != "cli" {
		t.Fatalf("ListConsents(alice) = %+v", cs)
	}
	if none, err := db.ListConsents(ctx, "carol"); err != nil || len(none) != 0 {
		t.Errorf("ListConsents(carol) = %v, %v; want none", none, err)
	}

	must(t, db.DeleteConsent(ctx, "alice", "app"))
	_, err = db.GetConsent(ctx, "alice", "app")
	mustNotFound(t, "GetConsent after DeleteConsent", err)
	mustNotFound(t, "DeleteConsent twice", db.DeleteConsent(ctx, "alice", "app"))
	mustNotFound(t, "DeleteConsent(unknown client)", db.DeleteConsent(ctx, "alice", "nope"))
	if _, err := db.GetConsent(ctx, "bob", "app"); err != nil {
		t.Errorf("bob's consent to the same app went too: %v", err)
	}
	if _, err := db.GetConsent(ctx, "alice", "cli"); err != nil {
		t.Errorf("alice's consent to another app went too: %v", err)
	}
}

func testSigningKeys(t *testing.T, ctx context.Context, db *postgres.DB) {
	k1 := &storage.SigningKey{ID: "k1", Alg: "RS256", PrivateKeyEncrypted: []byte("sealed1"),
		PublicKeyPEM: []byte("pem1"), CreatedAt: t0, ActiveAt: t0}
	k2 := &storage.SigningKey{ID: "k2", Alg: "ES256", PrivateKeyEncrypted: []byte("sealed2"),
		PublicKeyPEM: []byte("pem2"), CreatedAt: t0.Add(time.Hour), ActiveAt: t0.Add(2 * time.Hour)}
	must(t, db.InsertSigningKey(ctx, k2))
	must(t, db.InsertSigningKey(ctx, k1))
	if err := db.InsertSigningKey(ctx, k1); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate InsertSigningKey: err = %v; want ErrConflict", err)
	}

	retired := t0.Add(3 * time.Hour)
	must(t, db.RetireSigningKey(ctx, "k1", retired))
	must(t, db.RetireSigningKey(ctx, "k1", retired.Add(time.Hour))) // keeps the first time
	mustNotFound(t, "RetireSigningKey(nope)", db.RetireSigningKey(ctx, "nope", retired))

	keys, err := db.ListSigningKeys(ctx)
	must(t, err)
	if len(keys) != 2 || keys[0].ID != "k1" || keys[1].ID != "k2" {
		t.Fatalf("ListSigningKeys = %+v; want k1, k2 (oldest first)", keys)
	}
	if k := keys[0]; k.RetiredAt == nil || !k.RetiredAt.Equal(retired) || string(k.PrivateKeyEncrypted) != "sealed1" ||
		string(k.PublicKeyPEM) != "pem1" || k.Alg != "RS256" || !k.CreatedAt.Equal(t0) {
		t.Errorf("k1 = %+v", k)
	}
	if k := keys[1]; k.RetiredAt != nil || !k.ActiveAt.Equal(t0.Add(2*time.Hour)) || k.Alg != "ES256" {
		t.Errorf("k2 = %+v", k)
	}
}

func testMigrateTwice(t *testing.T, ctx context.Context, db *postgres.DB) {
	must(t, db.CreateClient(ctx, newClient("app")))
	must(t, db.Migrate(ctx)) // storagetest migrated once already
	must(t, db.Migrate(ctx))
	if _, err := db.GetClient(ctx, "app"); err != nil {
		t.Fatalf("row lost after re-running Migrate: %v", err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	// Four stores, as four processes would, race to migrate a schema that
	// does not exist yet.
	schema := storagetest.Schema(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), storagetest.PostgresURL(), postgres.WithSchema(schema))
			if err != nil {
				t.Error(err)
				return
			}
			defer db.Close()
			if err := db.Migrate(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	db, err := postgres.Open(t.Context(), storagetest.PostgresURL(), postgres.WithSchema(schema))
	must(t, err)
	defer db.Close()
	must(t, db.CreateClient(t.Context(), newClient("app")))
}

func TestSchemasAreIsolated(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := storagetest.Postgres(t), storagetest.Postgres(t)

	must(t, a.CreateClient(ctx, newClient("app")))
	must(t, a.CreateGrant(ctx, newGrant("g1", "alice")))
	_, err := b.GetClient(ctx, "app")
	mustNotFound(t, "client of schema a seen from b", err)
	n, err := b.CountGrants(ctx, "alice")
	must(t, err)
	if n != 0 {
		t.Errorf("schema b sees %d grants of schema a", n)
	}
	// The same id is free in the other schema.
	must(t, b.CreateClient(ctx, newClient("app")))
}

func TestOpenRejectsBadSchemaName(t *testing.T) {
	_, err := postgres.Open(t.Context(), storagetest.PostgresURL(), postgres.WithSchema(`x"; DROP TABLE users; --`))
	if err == nil {
		t.Fatal("Open accepted an invalid schema name")
	}
}
