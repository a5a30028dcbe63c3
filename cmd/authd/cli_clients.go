package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

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
	c, err := clientFromFlags(args)
	if err != nil {
		return err
	}
	printed := ""
	if len(c.SecretHash) == 0 && !c.Public && c.TokenEndpointAuthMethod != "private_key_jwt" {
		printed = storage.GenerateClientSecret()
		if c.SecretHash, err = storage.HashClientSecret(printed); err != nil {
			return err
		}
	}
	if err := e.db.CreateClient(ctx, &c); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("client %q already exists", c.ID)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "client %s created\n", c.ID)
	if printed != "" {
		fmt.Fprintf(e.stdout, "client_secret: %s\n(shown once; only its hash is stored)\n", printed)
	}
	return nil
}

// clientFromFlags reads `clients create`'s flags into a checked client, a
// --secret hashed into it.
func clientFromFlags(args []string) (storage.Client, error) {
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
		return storage.Client{}, err
	}
	c := storage.Client{
		ID: *id, Name: *name, Public: *public, RedirectURIs: redirects,
		GrantTypes: splitList(*grantTypes), Scopes: splitList(*scopes), Introspect: *introspect,
		AccessTokenFormat: *format, TokenEndpointAuthMethod: *authMethod, JWKSURI: *jwksURI,
		IDTokenAlg: *idTokenAlg,
	}
	if *jwksFile != "" {
		b, err := os.ReadFile(*jwksFile)
		if err != nil {
			return storage.Client{}, usageError{"clients create: --jwks-file: " + err.Error()}
		}
		c.JWKS = b
	}
	if c.TokenEndpointAuthMethod == "client_secret_basic" || c.TokenEndpointAuthMethod == "client_secret_post" {
		c.TokenEndpointAuthMethod = "" // the default, stored as such
	}
	if slices.Contains(c.GrantTypes, "authorization_code") {
		c.ResponseTypes = []string{"code"}
	}
	if *secret != "" {
		h, err := storage.HashClientSecret(*secret)
		if err != nil {
			return storage.Client{}, err
		}
		c.SecretHash = h
	}
	return c, checkClient(c, *secret)
}

// checkClient reports every problem of a registration from the command
// line: the client's own (storage.Client.Validate; c holds the hash of
// secret when one is given) and those of the --secret itself.
func checkClient(c storage.Client, secret string) error {
	var problems []string
	var invalid *storage.InvalidClientError
	if err := c.Validate(); errors.As(err, &invalid) {
		problems = invalid.Problems
	} else if err != nil {
		return err
	}
	if secret != "" && len(secret) < 16 {
		problems = append(problems, "--secret must be at least 16 characters (omit it to get a generated one)")
	}
	if len(problems) > 0 {
		return usageError{"clients create: " + strings.Join(problems, "; ")}
	}
	return nil
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
	if err := deleteClient(ctx, e.cfg, e.db, e.rdb, *id); err != nil { // grants_cli.go
		return err
	}
	fmt.Fprintf(e.stdout, "client %s deleted (its grants are revoked; its client_credentials tokens stop working within %s, when every replica's client cache expires)\n",
		*id, e.cfg.ClientCacheTTL)
	return nil
}
