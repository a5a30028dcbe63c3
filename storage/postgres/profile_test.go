package postgres_test

import (
	"testing"
	"time"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/storagetest"
)

// TestUserProfile: the profile columns of migration 00005 are written by
// CreateUser, read by every user lookup and changed by UpdateUser, which
// moves updated_at forward.
func TestUserProfile(t *testing.T) {
	ctx := t.Context()
	db := storagetest.Postgres(t)
	u := &storage.User{
		Username: "carol", PasswordHash: "h1", CreatedAt: t0,
		Email: "carol@example.com", EmailVerified: true,
		Name: "Carol Q. Example", GivenName: "Carol", FamilyName: "Example",
	}
	must(t, db.CreateUser(ctx, u))
	if !u.UpdatedAt.Equal(t0) {
		t.Fatalf("UpdatedAt after create = %v, want the creation time %v", u.UpdatedAt, t0)
	}
	got, err := db.GetUserByUsername(ctx, "carol")
	must(t, err)
	if !sameUser(*got, *u) {
		t.Fatalf("GetUserByUsername = %+v, want %+v", *got, *u)
	}
	got.Email, got.EmailVerified, got.Name, got.GivenName, got.FamilyName = "c@example.org", false, "C E", "C", "E"
	got.PasswordHash = "h2"
	before := time.Now().Add(-time.Second)
	must(t, db.UpdateUser(ctx, got))
	again, err := db.GetUser(ctx, u.ID)
	must(t, err)
	if again.Email != "c@example.org" || again.EmailVerified || again.Name != "C E" || again.GivenName != "C" ||
		again.FamilyName != "E" || again.PasswordHash != "h2" || again.Username != "carol" || !again.CreatedAt.Equal(t0) {
		t.Fatalf("after UpdateUser: %+v", *again)
	}
	if again.UpdatedAt.Before(before) {
		t.Fatalf("UpdatedAt = %v, want now (after %v)", again.UpdatedAt, before)
	}
	us, err := db.ListUsers(ctx)
	must(t, err)
	if len(us) != 1 || !sameUser(us[0], *again) {
		t.Fatalf("ListUsers = %+v, want [%+v]", us, *again)
	}
	mustNotFound(t, "UpdateUser of an unknown id", db.UpdateUser(ctx, &storage.User{ID: "00000000-0000-0000-0000-000000000000"}))
}

// sameUser compares two users, their times as instants.
func sameUser(a, b storage.User) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.UpdatedAt.Equal(b.UpdatedAt) {
		return false
	}
	a.CreatedAt, a.UpdatedAt, b.CreatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}
