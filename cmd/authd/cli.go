package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authd/authd/keys"
	"github.com/authd/authd/oauth"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/storage/postgres"
)

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

const usage = `usage: authd <command>

  serve                         serve HTTP
  migrate                       apply Postgres migrations
  demo                          create the demo user and client if absent, print how to try them
  clients create --id ID [--secret S | --public] [--redirect-uri URI]... --grant-types list
                 [--scopes "a b"] [--name NAME] [--introspect] [--access-token-format opaque|jwt]
                 [--auth-method private_key_jwt (--jwks-file F | --jwks-uri URL)]
  clients list [--json] | clients delete --id ID
  users create --username U --password P | users list [--json]
  keys list [--json] | keys rotate [--alg RS256|ES256]
  grants list --subject SUB [--active]
  grants revoke --id ID | grants revoke --subject SUB
  janitor                       flush refresh metadata; expire ended grants; delete those ended
                                more than AUTHD_GRANT_RETENTION (720h) ago

Configuration comes from AUTHD_* environment variables (see README).`

// run dispatches a command line; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{usage}
	}
	cmd, rest := args[0], args[1:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprintln(stdout, usage) // whatever the environment holds
		return nil
	}
	cfg, err := envConfig()
	if err != nil {
		return err
	}
	if cmd == "serve" {
		return serve(ctx, cfg, stderr)
	}
	sub := ""
	if len(rest) > 0 && (cmd == "clients" || cmd == "users" || cmd == "keys" || cmd == "grants") {
		sub, rest = rest[0], rest[1:]
	}
	db, rdb, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	defer rdb.Close()
	if done, err := listJSON(ctx, cfg, db, cmd+" "+sub, rest, stdout); done { // cli_json.go: --json
		return err
	}
	switch cmd + " " + sub {
	case "migrate ":
		if err := db.Migrate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	case "demo ":
		return demo(ctx, cfg, db, stdout)
	case "grants list", "grants revoke":
		return grantsCmd(ctx, cfg, db, rdb, sub, rest, stdout)
	case "janitor ":
		return janitorCmd(ctx, cfg, db, rdb, rest, stdout)
	case "clients create":
		return clientsCreate(ctx, db, rest, stdout)
	case "clients list":
		return clientsList(ctx, db, stdout)
	case "clients delete":
		fs := flag.NewFlagSet("clients delete", flag.ContinueOnError)
		id := fs.String("id", "", "client id")
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		if *id == "" {
			return usageError{"clients delete: --id is required"}
		}
		if err := db.DeleteClient(ctx, *id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client %s deleted (its tokens stop working within 10s, when every replica's client cache expires)\n", *id)
		return nil
	case "users create":
		fs := flag.NewFlagSet("users create", flag.ContinueOnError)
		name := fs.String("username", "", "username")
		pw := fs.String("password", "", "password")
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		u, err := createUser(ctx, db, *name, *pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s created (subject %s)\n", u.Username, u.ID)
		return nil
	case "users list":
		us, err := db.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tSUBJECT\tCREATED")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Username, u.ID, u.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "keys list", "keys rotate":
		if len(cfg.Secret) < 32 {
			return errors.New("AUTHD_SECRET (at least 32 bytes) is needed to manage signing keys")
		}
		m, err := keys.New(db, cfg.Secret)
		if err != nil {
			return err
		}
		if sub == "rotate" {
			fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
			alg := fs.String("alg", keys.RS256, "RS256 or ES256")
			if err := parseFlags(fs, rest); err != nil {
				return err
			}
			k, err := m.Rotate(ctx, *alg, 0)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "new %s key %s is active; older keys stay published in JWKS\n", k.Alg, k.ID)
			return nil
		}
		ks, err := m.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALG\tCREATED\tACTIVE FROM\tSTATE")
		for _, k := range ks {
			state := "published"
			if k.RetiredAt != nil {
				state = "retired"
			} else if k.Current {
				state = "signing"
			} else if k.ActiveAt.After(time.Now()) {
				state = "pending" // published, signs from ACTIVE FROM on (AUTHD_KEY_ROTATION lead)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Alg, k.CreatedAt.Format(time.RFC3339), k.ActiveAt.Format(time.RFC3339), state)
		}
		return tw.Flush()
	}
	return usageError{usage}
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usageError{fs.Name() + ": " + err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fs.Name() + ": unexpected argument " + fs.Arg(0)}
	}
	return nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

var knownGrantTypes = map[string]bool{
	"authorization_code": true, "refresh_token": true, "client_credentials": true,
	oauth.DeviceCodeGrantType: true,
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// clientsCreate registers a client and prints a generated secret once.
func clientsCreate(ctx context.Context, db *postgres.DB, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("clients create", flag.ContinueOnError)
	id := fs.String("id", "", "client id")
	secret := fs.String("secret", "", "client secret (generated when omitted)")
	public := fs.Bool("public", false, "public client (no secret; PKCE required)")
	var redirects listFlag
	fs.Var(&redirects, "redirect-uri", "redirect URI (repeatable)")
	grantTypes := fs.String("grant-types", "", "comma-separated grant types")
	scopes := fs.String("scopes", "", "space-separated scopes the client may request")
	name := fs.String("name", "", "display name")
	introspect := fs.Bool("introspect", false, "allow this client to call introspection")
	format := fs.String("access-token-format", "opaque", "opaque or jwt (RFC 9068)")
	idTokenAlg := fs.String("id-token-alg", "RS256", "ID token signing algorithm (id_token_signed_response_alg): RS256 or ES256")
	authMethod := fs.String("auth-method", "", "client_secret_basic (default; client_secret_post works too) or private_key_jwt")
	jwksFile := fs.String("jwks-file", "", "private_key_jwt: file with the client's public JWK Set")
	jwksURI := fs.String("jwks-uri", "", "private_key_jwt: URL of the client's public JWK Set")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c := &storage.Client{
		ID: *id, Name: *name, Public: *public, RedirectURIs: redirects,
		GrantTypes: splitList(*grantTypes), Scopes: splitList(*scopes), Introspect: *introspect,
		AccessTokenFormat: *format, TokenEndpointAuthMethod: *authMethod, JWKSURI: *jwksURI,
		IDTokenAlg: *idTokenAlg,
	}
	if *jwksFile != "" {
		b, err := os.ReadFile(*jwksFile)
		if err != nil {
			return usageError{"clients create: --jwks-file: " + err.Error()}
		}
		c.JWKS = b
	}
	if err := validateClient(c, *secret); err != nil {
		return err
	}
	if err := validateClientAuth(c, *secret); err != nil {
		return err
	}
	printed := ""
	if !c.Public && c.TokenEndpointAuthMethod != "private_key_jwt" {
		s := *secret
		if s == "" {
			s = storage.GenerateClientSecret()
			printed = s
		}
		h, err := storage.HashClientSecret(s)
		if err != nil {
			return err
		}
		c.SecretHash = h
	}
	if has(c.GrantTypes, "authorization_code") {
		c.ResponseTypes = []string{"code"}
	}
	if err := db.CreateClient(ctx, c); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("client %q already exists", c.ID)
		}
		return err
	}
	fmt.Fprintf(stdout, "client %s created\n", c.ID)
	if printed != "" {
		fmt.Fprintf(stdout, "client_secret: %s\n(shown once; only its hash is stored)\n", printed)
	}
	return nil
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// validateClient reports every problem with a client registration at once.
func validateClient(c *storage.Client, secret string) error {
	var errs []string
	if c.ID == "" || len(c.ID) > 255 || strings.ContainsAny(c.ID, " \t\r\n:") {
		errs = append(errs, "--id is required (no spaces or colons, at most 255 characters)")
	}
	if len(c.GrantTypes) == 0 {
		errs = append(errs, "--grant-types is required (authorization_code, refresh_token, client_credentials, "+oauth.DeviceCodeGrantType+")")
	}
	for _, g := range c.GrantTypes {
		if !knownGrantTypes[g] {
			errs = append(errs, fmt.Sprintf("unknown grant type %q", g))
		}
	}
	if c.Public && secret != "" {
		errs = append(errs, "--public and --secret exclude each other")
	}
	if c.Public && has(c.GrantTypes, "client_credentials") {
		errs = append(errs, "a public client cannot use client_credentials")
	}
	if has(c.GrantTypes, "authorization_code") && len(c.RedirectURIs) == 0 {
		errs = append(errs, "the authorization_code grant needs at least one --redirect-uri")
	}
	if !has(c.GrantTypes, "authorization_code") && len(c.RedirectURIs) > 0 {
		errs = append(errs, "--redirect-uri is only meaningful with the authorization_code grant")
	}
	if has(c.GrantTypes, "refresh_token") && !has(c.GrantTypes, "authorization_code") && !has(c.GrantTypes, oauth.DeviceCodeGrantType) {
		errs = append(errs, "refresh_token needs a grant that issues refresh tokens (authorization_code or "+oauth.DeviceCodeGrantType+")")
	}
	for _, u := range c.RedirectURIs {
		p, err := url.Parse(u)
		if err != nil || p.Scheme == "" || p.Fragment != "" || (p.Scheme == "http" && !loopback(p.Hostname())) || (p.Scheme == "https" && p.Host == "") {
			errs = append(errs, fmt.Sprintf("redirect URI %q must be absolute, without fragment, and https unless on loopback", u))
		}
	}
	if secret != "" && len(secret) < 16 {
		errs = append(errs, "--secret must be at least 16 characters (omit it to get a generated one)")
	}
	if len(errs) > 0 {
		return usageError{"clients create: " + strings.Join(errs, "; ")}
	}
	return nil
}

// validateClientAuth checks the token format and the authentication method
// with its keys (issue: JWT access tokens and private_key_jwt).
func validateClientAuth(c *storage.Client, secret string) error {
	var errs []string
	if c.AccessTokenFormat != "opaque" && c.AccessTokenFormat != "jwt" {
		errs = append(errs, "--access-token-format must be opaque or jwt")
	}
	if c.IDTokenAlg != "RS256" && c.IDTokenAlg != "ES256" {
		errs = append(errs, "--id-token-alg must be RS256 or ES256")
	}
	switch c.TokenEndpointAuthMethod {
	case "", "client_secret_basic", "client_secret_post":
		c.TokenEndpointAuthMethod = ""
		if len(c.JWKS) > 0 || c.JWKSURI != "" {
			errs = append(errs, "--jwks-file and --jwks-uri need --auth-method private_key_jwt")
		}
	case "private_key_jwt":
		if c.Public || secret != "" {
			errs = append(errs, "a private_key_jwt client has neither --public nor --secret")
		}
		if (len(c.JWKS) > 0) == (c.JWKSURI != "") {
			errs = append(errs, "private_key_jwt needs exactly one of --jwks-file or --jwks-uri")
		}
		if len(c.JWKS) > 0 {
			if _, err := fositestore.NewClient(*c); err != nil {
				errs = append(errs, err.Error())
			} else if bytes.Contains(c.JWKS, []byte(`"d"`)) {
				errs = append(errs, "the JWK Set must hold public keys only")
			}
		}
		if u, err := url.Parse(c.JWKSURI); c.JWKSURI != "" && (err != nil || u.Scheme != "https" && !loopback(u.Hostname())) {
			errs = append(errs, "--jwks-uri must be https (or loopback)")
		}
	default:
		errs = append(errs, "--auth-method must be client_secret_basic, client_secret_post or private_key_jwt")
	}
	if len(errs) > 0 {
		return usageError{"clients create: " + strings.Join(errs, "; ")}
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func createUser(ctx context.Context, db *postgres.DB, username, password string) (*storage.User, error) {
	if username == "" || password == "" {
		return nil, usageError{"users create: --username and --password are required"}
	}
	if len(password) < 8 {
		return nil, usageError{"users create: the password must be at least 8 characters"}
	}
	h, err := storage.HashPassword(password)
	if err != nil {
		return nil, err
	}
	u := &storage.User{Username: username, PasswordHash: h}
	if err := db.CreateUser(ctx, u); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, fmt.Errorf("user %q already exists", username)
		}
		return nil, err
	}
	return u, nil
}

func clientsList(ctx context.Context, db *postgres.DB, stdout io.Writer) error {
	cs, err := db.ListClients(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tGRANT TYPES\tSCOPES\tINTROSPECT\tREDIRECT URIS")
	for _, c := range cs {
		typ := "confidential"
		if c.Public {
			typ = "public"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\n", c.ID, c.Name, typ, strings.Join(c.GrantTypes, ","),
			strings.Join(c.Scopes, " "), c.Introspect, strings.Join(c.RedirectURIs, " "))
	}
	return tw.Flush()
}

// Demo credentials created by `authd demo` (development only).
const (
	demoUser     = "demo"
	demoPassword = "demo-password"
	demoClient   = "demo-app"
	demoRedirect = "http://127.0.0.1:8081/callback"
)

// demo creates the demo user and a public demo client if absent, and prints
// a ready-to-paste authorization URL with a fresh PKCE pair.
func demo(ctx context.Context, cfg Config, db *postgres.DB, stdout io.Writer) error {
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
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	verifier := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {demoClient}, "redirect_uri": {demoRedirect},
		"scope": {"openid profile offline_access"}, "state": {"demo-state-123"}, "nonce": {"demo-nonce-456"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	fmt.Fprintf(stdout, `
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

`, cfg.Issuer, cfg.Issuer, demoUser, demoPassword, demoClient, demoRedirect,
		cfg.Issuer, q.Encode(), demoRedirect, cfg.Issuer, demoClient, url.QueryEscape(demoRedirect), verifier)
	return nil
}
