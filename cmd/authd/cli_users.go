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
	"github.com/authd/authd/users"
)

func usersCreate(ctx context.Context, e *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	fs.String("username", "", "username")
	fs.String("password", "", "password")
	addProfileFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	u, err := (&users.Service{Store: e.db}).Create(ctx, userChange(fs))
	if err != nil {
		return userError("users create", flagValue(fs, "username"), err)
	}
	fmt.Fprintf(e.stdout, "user %s created (subject %s)\n", u.Username, u.ID)
	return nil
}

// userService is the user service over the command's stores: a change
// that ends grants ends them through the grants home, as the server does.
// Its browser sessions end too.
func userService(e *cmdEnv) (*users.Service, error) {
	rs, _, _, m, err := newGrantStores(e.cfg, e.db, e.rdb, nil, nil)
	if err != nil {
		return nil, err
	}
	return &users.Service{Store: e.db, Grants: m, Sessions: newSessions(e.cfg, rs, m, nil)}, nil
}

// usersUpdate changes the profile flags given (the others stay) and, with
// --password, the password of the user --username; --disabled disables
// it. A new password or disabling ends the user's grants.
func usersUpdate(ctx context.Context, e *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("users update", flag.ContinueOnError)
	name := fs.String("username", "", "username")
	fs.String("password", "", "new password")
	fs.Bool("disabled", false, "disable the user (--disabled=false enables it)")
	addProfileFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError{"users update: --username is required"}
	}
	svc, err := userService(e)
	if err != nil {
		return err
	}
	u, err := svc.GetByUsername(ctx, *name)
	if err == nil {
		c := userChange(fs)
		c.Username = nil // --username names the user
		u, err = svc.Update(ctx, u.ID, c)
	}
	if err != nil {
		return userError("users update", *name, err)
	}
	fmt.Fprintf(e.stdout, "user %s updated (subject %s)\n", u.Username, u.ID)
	return nil
}

// usersDelete deletes the user --username (or --subject), its consents
// and its grants' tokens; the grant rows go after AUTHD_GRANT_RETENTION.
func usersDelete(ctx context.Context, e *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("users delete", flag.ContinueOnError)
	name := fs.String("username", "", "username")
	subject := fs.String("subject", "", "subject (user id)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*name == "") == (*subject == "") {
		return usageError{"users delete: give exactly one of --username or --subject"}
	}
	svc, err := userService(e)
	if err != nil {
		return err
	}
	who := *subject
	if *name != "" {
		who = *name
		u, err := svc.GetByUsername(ctx, *name)
		if err != nil {
			return userError("users delete", who, err)
		}
		*subject = u.ID
	}
	if err := svc.Delete(ctx, *subject); err != nil {
		return userError("users delete", who, err)
	}
	fmt.Fprintf(e.stdout, "user %s deleted (subject %s; its grants are revoked, their records deleted after %s)\n",
		who, *subject, e.cfg.GrantRetention)
	return nil
}

// userError words a user service error for the command line.
func userError(cmd, who string, err error) error {
	var invalid *users.InvalidError
	switch {
	case errors.As(err, &invalid):
		return usageError{cmd + ": " + invalid.Error()}
	case errors.Is(err, storage.ErrConflict):
		return fmt.Errorf("user %q already exists", who)
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("user %q not found", who)
	}
	return err
}

// userChange is the users.Change the flags given on the command line make.
func userChange(fs *flag.FlagSet) users.Change {
	var c users.Change
	str := func(f *flag.Flag) *string { v := f.Value.String(); return &v }
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "username":
			c.Username = str(f)
		case "password":
			c.Password = str(f)
		case "email":
			c.Email = str(f)
		case "name":
			c.Name = str(f)
		case "given-name":
			c.GivenName = str(f)
		case "family-name":
			c.FamilyName = str(f)
		case "email-verified":
			v := f.Value.String() == "true"
			c.EmailVerified = &v
		case "disabled":
			v := f.Value.String() == "true"
			c.Disabled = &v
		}
	})
	return c
}

// flagValue is the value of the flag name ("" when it has none).
func flagValue(fs *flag.FlagSet, name string) string {
	if f := fs.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// addProfileFlags defines the profile flags of users create and users
// update.
func addProfileFlags(fs *flag.FlagSet) {
	fs.String("email", "", "email address")
	fs.Bool("email-verified", false, "the email address is verified")
	fs.String("name", "", "full name")
	fs.String("given-name", "", "given name")
	fs.String("family-name", "", "family name")
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
	return printList(e.stdout, asJSON, us, "USERNAME\tSUBJECT\tCREATED\tDISABLED", func(u storage.User) string {
		return fmt.Sprintf("%s\t%s\t%s\t%v", u.Username, u.ID, u.CreatedAt.Format(time.RFC3339), u.Disabled)
	}, userView)
}

// createUser creates a user with a username and password (demo, tests).
func createUser(ctx context.Context, db *postgres.DB, username, password string) (*storage.User, error) {
	u, err := (&users.Service{Store: db}).Create(ctx, users.Change{Username: &username, Password: &password})
	if err != nil {
		return nil, userError("users create", username, err)
	}
	return u, nil
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
