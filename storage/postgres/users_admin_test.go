package postgres_test

import (
	"errors"
	"testing"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/storagetest"
)

// TestUserLifecycle: migration 00009's disabled flag is written and read
// (CreateGrant refuses a disabled user's grant);
// UpdateUser renames (a taken name is ErrConflict); ListUsersAfter pages by
// username; DeleteUser deletes the user and its consents only.
func TestUserLifecycle(t *testing.T) {
	ctx := t.Context()
	db := storagetest.Postgres(t)
	for _, n := range []string{"b", "a", "d", "c"} {
		must(t, db.CreateUser(ctx, &storage.User{Username: n, PasswordHash: "h", Disabled: n == "c"}))
	}
	c, err := db.GetUserByUsername(ctx, "c")
	must(t, err)
	if !c.Disabled {
		t.Fatal("disabled not stored")
	}
	// No grant is born for a disabled user; a retried creation is still fine.
	if err := db.CreateGrant(ctx, newGrant("gc", c.ID)); !errors.Is(err, storage.ErrRevoked) {
		t.Fatalf("grant of a disabled user: %v, want ErrRevoked", err)
	}
	if _, err := db.GetGrant(ctx, "gc"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a grant row of a disabled user was written: %v", err)
	}
	must(t, db.CreateGrant(ctx, newGrant("gb", "sub-of-b")))
	must(t, db.CreateGrant(ctx, newGrant("gb", "sub-of-b")))
	c.Disabled, c.Username = false, "e"
	must(t, db.UpdateUser(ctx, c))
	if got, err := db.GetUser(ctx, c.ID); err != nil || got.Disabled || got.Username != "e" {
		t.Fatalf("after update: %+v %v", got, err)
	}
	c.Username = "a"
	if err := db.UpdateUser(ctx, c); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("rename to a taken username: %v, want ErrConflict", err)
	}
	var seen []string
	for after := ""; ; {
		page, err := db.ListUsersAfter(ctx, after, 2)
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, u := range page {
			seen = append(seen, u.Username)
		}
		after = page[len(page)-1].Username
	}
	if len(seen) != 4 || seen[0] != "a" || seen[1] != "b" || seen[2] != "d" || seen[3] != "e" {
		t.Fatalf("pages: %v, want a b d e", seen)
	}
	must(t, db.CreateClient(ctx, newClient("app")))
	must(t, db.SaveConsent(ctx, c.ID, "app", []string{"openid"}))
	a, _ := db.GetUserByUsername(ctx, "a")
	must(t, db.SaveConsent(ctx, a.ID, "app", []string{"openid"}))
	must(t, db.DeleteUser(ctx, c.ID))
	_, err = db.GetUser(ctx, c.ID)
	mustNotFound(t, "GetUser after DeleteUser", err)
	mustNotFound(t, "DeleteUser twice", db.DeleteUser(ctx, c.ID))
	if s, err := db.GetConsent(ctx, c.ID, "app"); err == nil {
		t.Errorf("consent of the deleted user kept: %v", s)
	}
	if s, err := db.GetConsent(ctx, a.ID, "app"); err != nil || len(s) != 1 {
		t.Errorf("another user's consent: %v %v", s, err)
	}
}

// TestModifyUserConcurrently: changes of different fields made at the same
// time all survive (the row is locked between read and write); an error
// from the change writes nothing.
func TestModifyUserConcurrently(t *testing.T) {
	ctx := t.Context()
	db := storagetest.Postgres(t)
	u := &storage.User{Username: "zoe", PasswordHash: "h"}
	must(t, db.CreateUser(ctx, u))
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := db.ModifyUser(ctx, u.ID, func(v *storage.User) error {
				switch i % 4 {
				case 0:
					v.Email = "zoe@example.com"
				case 1:
					v.Name = "Zoe"
				case 2:
					v.GivenName = "Z"
				default:
					v.PasswordHash = "h2"
				}
				return nil
			})
			errs <- err
		}()
	}
	for range n {
		must(t, <-errs)
	}
	got, err := db.GetUser(ctx, u.ID)
	must(t, err)
	if got.Email != "zoe@example.com" || got.Name != "Zoe" || got.GivenName != "Z" || got.PasswordHash != "h2" {
		t.Fatalf("a concurrent change was lost: %+v", got)
	}
	boom := errors.New("boom")
	if _, err := db.ModifyUser(ctx, u.ID, func(v *storage.User) error { v.Name = "X"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("change error: %v", err)
	}
	if got, _ := db.GetUser(ctx, u.ID); got.Name != "Zoe" {
		t.Errorf("a failed change was written: %+v", got)
	}
	_, err = db.ModifyUser(ctx, "nobody", func(*storage.User) error { return nil })
	mustNotFound(t, "ModifyUser of an unknown id", err)
}
