package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/authd/authd/clients"
	"github.com/authd/authd/storage"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// clientsCreate registers a client and prints a generated secret once.
func clientsCreate(ctx context.Context, e *cmdEnv, args []string) error {
	c, secret, err := clientFromFlags(args)
	if err != nil {
		return err
	}
	created, err := clientService(e).Create(ctx, clients.New{Client: c, Secret: secret})
	switch {
	case errors.Is(err, storage.ErrConflict):
		return fmt.Errorf("client %q already exists", c.ID)
	case err != nil:
		return createUsage(err)
	}
	fmt.Fprintf(e.stdout, "client %s created\n", created.Client.ID)
	if created.Secret != "" {
		fmt.Fprintf(e.stdout, "client_secret: %s\n(shown once; only its hash is stored)\n", created.Secret)
	}
	return nil
}

// clientService is the client lifecycle over the command's stores; with
// Redis open, Delete ends tokens through the grants home as the server's
// does.
func clientService(e *cmdEnv) *clients.Service {
	s := &clients.Service{Store: e.db}
	if e.rdb != nil {
		s.Deleter = cliDeleter{e}
	}
	return s
}

// cliDeleter deletes a client as `clients delete` always has (deleteClient,
// grants_cli.go).
type cliDeleter struct{ e *cmdEnv }

func (d cliDeleter) DeleteClient(ctx context.Context, id string) error {
	return deleteClient(ctx, d.e.cfg, d.e.db, d.e.rdb, id)
}

// registration is the flags `clients create` and `clients update` share: what
// a registration says about the client, apart from its credentials. Both
// commands turn the flags given into one storage.ClientUpdate, and both
// go through clients.Service, which checks the result (clients.Check).
type registration struct {
	fs                                                     *flag.FlagSet
	name, grantTypes, scopes, format, idTokenAlg, resource *string
	introspect, backchannelSession                         *bool
	backchannel, frontchannel                              *string
	redirects, postLogout, cors, audience                  listFlag
}

func registrationFlags(fs *flag.FlagSet) *registration {
	s := &registration{fs: fs}
	fs.Var(&s.redirects, "redirect-uri", "redirect URI (repeatable)")
	fs.Var(&s.postLogout, "post-logout-redirect-uri", "where logout may return the user (repeatable)")
	fs.Var(&s.cors, "allowed-cors-origin", "browser origin allowed to call the token, revocation and userinfo endpoints for this client, besides its redirect URIs' origins (repeatable)")
	s.grantTypes = fs.String("grant-types", "", "comma-separated grant types")
	s.scopes = fs.String("scopes", "", "space-separated scopes the client may request")
	s.name = fs.String("name", "", "display name")
	s.introspect = fs.Bool("introspect", false, "allow this client to call introspection")
	fs.Var(&s.audience, "audience", "a resource (RFC 8707 resource indicator, an absolute URI) this client may request tokens for (repeatable)")
	s.resource = fs.String("resource", "", "the API this client protects, as a resource server (an absolute URI): introspection then shows it only tokens for it")
	s.backchannel = fs.String("backchannel-logout-uri", "", "where the client receives logout tokens (Back-Channel Logout); \"\" clears it")
	s.frontchannel = fs.String("frontchannel-logout-uri", "", "page authd loads in an iframe when a session of this client ends in the browser (Front-Channel Logout); \"\" clears it")
	s.backchannelSession = fs.Bool("backchannel-logout-session-required", false, "the client needs sid in its logout tokens")
	s.format = fs.String("access-token-format", "opaque", "opaque or jwt (RFC 9068)")
	s.idTokenAlg = fs.String("id-token-alg", "RS256", "ID token signing algorithm (id_token_signed_response_alg): RS256 or ES256")
	return s
}

// update is what the command line gave (after parsing): a flag not given
// stays as it is; a list flag given replaces the list, its empty values
// dropped, so `--redirect-uri ""` clears it.
func (s *registration) update() storage.ClientUpdate {
	var u storage.ClientUpdate
	list := func(l listFlag) *[]string {
		out := slices.DeleteFunc(slices.Clone([]string(l)), func(v string) bool { return strings.TrimSpace(v) == "" })
		return &out
	}
	s.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			u.Name = s.name
		case "redirect-uri":
			u.RedirectURIs = list(s.redirects)
		case "post-logout-redirect-uri":
			u.PostLogoutRedirectURIs = list(s.postLogout)
		case "allowed-cors-origin":
			u.CORSOrigins = list(s.cors)
		case "grant-types":
			u.GrantTypes = list(splitList(*s.grantTypes))
		case "scopes":
			u.Scopes = list(splitList(*s.scopes))
		case "access-token-format":
			u.AccessTokenFormat = s.format
		case "id-token-alg":
			u.IDTokenAlg = s.idTokenAlg
		case "introspect":
			u.Introspect = s.introspect
		case "audience":
			u.Audience = list(s.audience)
		case "resource":
			u.Resource = s.resource
		case "backchannel-logout-uri":
			u.BackchannelLogoutURI = s.backchannel
		case "frontchannel-logout-uri":
			u.FrontchannelLogoutURI = s.frontchannel
		case "backchannel-logout-session-required":
			u.BackchannelLogoutSessionRequired = s.backchannelSession
		}
	})
	return u
}

// clientFromFlags reads `clients create`'s flags into a client and the
// --secret given; clients.Service.Create checks both.
func clientFromFlags(args []string) (storage.Client, string, error) {
	fs := flag.NewFlagSet("clients create", flag.ContinueOnError)
	id := fs.String("id", "", "client id")
	secret := fs.String("secret", "", "client secret (generated when omitted)")
	public := fs.Bool("public", false, "public client (no secret; PKCE required)")
	set := registrationFlags(fs)
	authMethod := fs.String("auth-method", "", "client_secret_basic (default; client_secret_post works too) or private_key_jwt")
	jwksFile := fs.String("jwks-file", "", "private_key_jwt: file with the client's public JWK Set")
	jwksURI := fs.String("jwks-uri", "", "private_key_jwt: URL of the client's public JWK Set")
	if err := parseFlags(fs, args); err != nil {
		return storage.Client{}, "", err
	}
	c := set.update().Apply(storage.Client{
		ID: *id, Public: *public, AccessTokenFormat: *set.format, IDTokenAlg: *set.idTokenAlg,
		TokenEndpointAuthMethod: *authMethod, JWKSURI: *jwksURI,
	})
	if *jwksFile != "" {
		b, err := os.ReadFile(*jwksFile)
		if err != nil {
			return storage.Client{}, "", usageError{"clients create: --jwks-file: " + err.Error()}
		}
		c.JWKS = b
	}
	return c, *secret, nil
}

// checkClient reports every problem of a registration from the command
// line (clients.Check; c holds the hash of secret when one is given) as a
// usage error.
func checkClient(c storage.Client, secret string) error { return createUsage(clients.Check(c, secret)) }

// createUsage turns the policy's refusal (a *clients.Error) into a usage
// error of `clients create`; other errors pass through.
func createUsage(err error) error {
	var invalid *clients.Error
	if errors.As(err, &invalid) {
		return usageError{"clients create: " + invalid.Error()}
	}
	return err
}

func clientsList(ctx context.Context, e *cmdEnv, args []string) error {
	asJSON, err := listFlags("clients list", args)
	if err != nil {
		return err
	}
	cs, err := e.db.ListClients(ctx)
	if err != nil {
		return err
	}
	return printList(e.stdout, asJSON, cs, "ID\tNAME\tTYPE\tGRANT TYPES\tSCOPES\tINTROSPECT\tREDIRECT URIS",
		func(c storage.Client) string {
			typ := "confidential"
			if c.Public {
				typ = "public"
			}
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%v\t%s", c.ID, c.Name, typ, strings.Join(c.GrantTypes, ","),
				strings.Join(c.Scopes, " "), c.Introspect, strings.Join(c.RedirectURIs, " "))
		}, clientView)
}

func clientsDelete(ctx context.Context, e *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("clients delete", flag.ContinueOnError)
	id := fs.String("id", "", "client id")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return usageError{"clients delete: --id is required"}
	}
	if err := clientService(e).Delete(ctx, *id); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "client %s deleted (its grants are revoked; its client_credentials tokens stop working within %s, when every replica's client cache expires)\n",
		*id, e.cfg.ClientCacheTTL)
	return nil
}

// clientsUpdate changes a client's registration (what registrationFlags
// covers) without touching its id, secret, keys or grants; the result is
// validated like a new registration, in the transaction that writes it.
func clientsUpdate(ctx context.Context, e *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("clients update", flag.ContinueOnError)
	id := fs.String("id", "", "client id")
	asJSON := fs.Bool("json", false, "print the client as JSON")
	set := registrationFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	u := set.update()
	if *id == "" {
		return usageError{"clients update: --id is required"}
	}
	if u == (storage.ClientUpdate{}) {
		return usageError{"clients update: nothing to change"}
	}
	c, err := clientService(e).Update(ctx, *id, u)
	var invalid *clients.Error
	switch {
	case errors.As(err, &invalid):
		return usageError{"clients update: " + invalid.Error()}
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("client %q not found", *id)
	case err != nil:
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(clientView(*c))
	}
	fmt.Fprintf(e.stdout, "client %s updated (every replica uses the new registration within %s)\n", c.ID, e.cfg.ClientCacheTTL)
	return nil
}

// clientsRotateSecret gives a confidential client a new generated secret,
// printed once; the replaced one keeps working for --overlap.
func clientsRotateSecret(ctx context.Context, e *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("clients rotate-secret", flag.ContinueOnError)
	id := fs.String("id", "", "client id")
	overlap := fs.Duration("overlap", 0, "how long the replaced secret keeps working (0: it ends now)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" || *overlap < 0 {
		return usageError{"clients rotate-secret: --id is required and --overlap may not be negative"}
	}
	secret, until, err := clientService(e).RotateSecret(ctx, *id, *overlap)
	switch {
	case errors.Is(err, storage.ErrNoSecret):
		return fmt.Errorf("client %q has no secret to rotate (a public or private_key_jwt client)", *id)
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("client %q not found", *id)
	case err != nil:
		return err
	}
	fmt.Fprintf(e.stdout, "client %s: secret rotated\nclient_secret: %s\n(shown once; only its hash is stored)\n", *id, secret)
	if until.IsZero() {
		fmt.Fprintf(e.stdout, "the previous secret no longer works (on every replica within %s)\n", e.cfg.ClientCacheTTL)
	} else {
		fmt.Fprintf(e.stdout, "the previous secret keeps working until %s; the new one works on every replica within %s\n",
			until.UTC().Format(time.RFC3339), e.cfg.ClientCacheTTL)
	}
	return nil
}
