package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/storage"
)

// TestUsersProfileCLI: `users create` stores the profile flags; `users
// update` changes only the flags it is given, re-hashes --password and
// moves updated_at; an unknown user or a short password is an error.
func TestUsersProfileCLI(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	_, err := cli(t, s, "users", "create", "--username", "dora", "--password", "first-password",
		"--email", "dora@example.com", "--email-verified", "--name", "Dora Explorer",
		"--given-name", "Dora", "--family-name", "Explorer")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.DB.GetUserByUsername(ctx, "dora")
	if err != nil {
		t.Fatal(err)
	}
	want := storage.User{ID: u.ID, Username: "dora", PasswordHash: u.PasswordHash, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		Email: "dora@example.com", EmailVerified: true, Name: "Dora Explorer", GivenName: "Dora", FamilyName: "Explorer"}
	if *u != want {
		t.Fatalf("after create: %+v, want %+v", *u, want)
	}
	time.Sleep(10 * time.Millisecond)
	out, err := cli(t, s, "users", "update", "--username", "dora", "--email", "dora@example.org",
		"--email-verified=false", "--family-name", "Map", "--password", "second-password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "dora") {
		t.Errorf("update output %q does not name the user", out)
	}
	v, err := s.DB.GetUserByUsername(ctx, "dora")
	if err != nil {
		t.Fatal(err)
	}
	if v.Email != "dora@example.org" || v.EmailVerified || v.FamilyName != "Map" ||
		v.Name != "Dora Explorer" || v.GivenName != "Dora" || v.ID != u.ID || !v.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("after update: %+v", *v)
	}
	if !v.UpdatedAt.After(u.UpdatedAt) {
		t.Errorf("updated_at %v not after %v", v.UpdatedAt, u.UpdatedAt)
	}
	okNew, _ := storage.VerifyPassword(v.PasswordHash, "second-password")
	okOld, _ := storage.VerifyPassword(v.PasswordHash, "first-password")
	if !okNew || okOld {
		t.Error("--password did not re-hash the new password")
	}
	out, err = cli(t, s, "users", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 {
		t.Fatalf("users list --json: %v\n%s", err, out)
	}
	wantJSON := map[string]any{"subject": u.ID, "username": "dora", "email": "dora@example.org", "email_verified": false,
		"name": "Dora Explorer", "given_name": "Dora", "family_name": "Map", "updated_at": v.UpdatedAt.UTC().Format(time.RFC3339Nano)}
	for k, want := range wantJSON {
		if listed[0][k] != want {
			t.Errorf("users list --json %s = %#v, want %#v", k, listed[0][k], want)
		}
	}
	if _, err := cli(t, s, "users", "update", "--username", "nobody", "--name", "X"); err == nil {
		t.Error("update of an unknown user succeeded")
	}
	if _, err := cli(t, s, "users", "update", "--username", "dora", "--password", "short"); err == nil || exitCode(err) != 2 {
		t.Errorf("short password: err = %v, want a usage error", err)
	}
	if _, err := cli(t, s, "users", "update", "--name", "X"); err == nil || exitCode(err) != 2 {
		t.Errorf("no --username: err = %v, want a usage error", err)
	}
}
