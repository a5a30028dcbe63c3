package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
)

func usersCreate(ctx context.Context, e *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	name := fs.String("username", "", "username")
	pw := fs.String("password", "", "password")
	prof := addProfileFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	u := &storage.User{Username: *name}
	prof.apply(fs, u)
	if err := insertUser(ctx, e.db, u, *pw); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s created (subject %s)\n", u.Username, u.ID)
	return nil
}

// usersUpdate changes the profile flags given (the others stay) and, with
// --password, the password of the user --username.
func usersUpdate(ctx context.Context, e *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("users update", flag.ContinueOnError)
	name := fs.String("username", "", "username")
	pw := fs.String("password", "", "new password")
	prof := addProfileFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError{"users update: --username is required"}
	}
	u, err := e.db.GetUserByUsername(ctx, *name)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("user %q not found", *name)
	} else if err != nil {
		return err
	}
	prof.apply(fs, u)
	if flagSet(fs, "password") {
		if u.PasswordHash, err = hashNewPassword("users update", *pw); err != nil {
			return err
		}
	}
	if err := e.db.UpdateUser(ctx, u); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s updated (subject %s)\n", u.Username, u.ID)
	return nil
}

// profileFlags are the profile flags of users create and users update.
type profileFlags struct {
	email, name, given, family *string
	verified                   *bool
}

func addProfileFlags(fs *flag.FlagSet) profileFlags {
	return profileFlags{
		email:    fs.String("email", "", "email address"),
		verified: fs.Bool("email-verified", false, "the email address is verified"),
		name:     fs.String("name", "", "full name"),
		given:    fs.String("given-name", "", "given name"),
		family:   fs.String("family-name", "", "family name"),
	}
}

// apply copies onto u the profile flags given on the command line.
func (p profileFlags) apply(fs *flag.FlagSet, u *storage.User) {
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "email":
			u.Email = *p.email
		case "email-verified":
			u.EmailVerified = *p.verified
		case "name":
			u.Name = *p.name
		case "given-name":
			u.GivenName = *p.given
		case "family-name":
			u.FamilyName = *p.family
		}
	})
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// hashNewPassword checks a new password's length and hashes it.
func hashNewPassword(cmd, password string) (string, error) {
	if len(password) < 8 {
		return "", usageError{cmd + ": the password must be at least 8 characters"}
	}
	return storage.HashPassword(password)
}

func usersList(ctx context.Context, e *cmdEnv, args []string) error {
	asJSON, err := listFlags("users list", args)
	if err != nil {
		return err
	}
	us, err := e.db.ListUsers(ctx)
	if err != nil {
		return err
	}
	return printList(e.stdout, asJSON, us, "USERNAME\tSUBJECT\tCREATED", func(u storage.User) string {
		return fmt.Sprintf("%s\t%s\t%s", u.Username, u.ID, u.CreatedAt.Format(time.RFC3339))
	}, userView)
}

func createUser(ctx context.Context, db *postgres.DB, username, password string) (*storage.User, error) {
	u := &storage.User{Username: username}
	if err := insertUser(ctx, db, u, password); err != nil {
		return nil, err
	}
	return u, nil
}

// insertUser creates the user u (username and profile set) with password.
func insertUser(ctx context.Context, db *postgres.DB, u *storage.User, password string) error {
	if u.Username == "" || password == "" {
		return usageError{"users create: --username and --password are required"}
	}
	h, err := hashNewPassword("users create", password)
	if err != nil {
		return err
	}
	u.PasswordHash = h
	if err := db.CreateUser(ctx, u); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("user %q already exists", u.Username)
		}
		return err
	}
	return nil
}

// Demo credentials created by `authd demo` (development only).
const (
	demoUser     = "demo"
	demoPassword = "demo-password"
	demoClient   = "demo-app"
	demoRedirect = "http://127.0.0.1:8081/callback"
)

// demoCmd creates the demo user and a public demo client if absent, and
// prints a ready-to-paste authorization URL with a fresh PKCE pair.
func demoCmd(ctx context.Context, e *cmdEnv, _ []string) error {
	db := e.db
	if _, err := db.GetUserByUsername(ctx, demoUser); errors.Is(err, storage.ErrNotFound) {
		if _, err := createUser(ctx, db, demoUser, demoPassword); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if _, err := db.GetClient(ctx, demoClient); errors.Is(err, storage.ErrNotFound) {
		err := db.CreateClient(ctx, &storage.Client{
			ID: demoClient, Name: "Demo App", Public: true, RedirectURIs: []string{demoRedirect},
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
			Scopes: []string{"openid", "profile", "offline_access", "grants"},
		})
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	printDemo(e.stdout, e.cfg.Issuer)
	return nil
}

// printDemo prints how to try the demo client against issuer.
func printDemo(out io.Writer, issuer string) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	verifier := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {demoClient}, "redirect_uri": {demoRedirect},
		"scope": {"openid profile offline_access"}, "state": {"demo-state-123"}, "nonce": {"demo-nonce-456"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	fmt.Fprintf(out, `
authd is ready.
  issuer:         %s
  discovery:      %s/.well-known/openid-configuration
  demo user:      %s / %s
  demo client:    %s (public, PKCE), redirect %s

Open this authorization URL in a browser, sign in and allow:
  %s/oauth2/auth?%s

The browser then lands on %s?code=...; exchange the code with:
  curl -s %s/oauth2/token -d grant_type=authorization_code -d client_id=%s \
    -d redirect_uri=%s -d code_verifier=%s -d code=CODE

`, issuer, issuer, demoUser, demoPassword, demoClient, demoRedirect,
		issuer, q.Encode(), demoRedirect, issuer, demoClient, url.QueryEscape(demoRedirect), verifier)
}
