package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"time"

	"github.com/authd/authd/keys"
	"github.com/authd/authd/storage/postgres"
)

// listJSON answers `clients list --json`, `users list --json` and
// `keys list --json` with a JSON array (never null; no secret material:
// secret and password hashes are left out). done is false when the command
// is not one of those or --json was not given; run then prints the table.
func listJSON(ctx context.Context, cfg Config, db *postgres.DB, cmd string, args []string, out io.Writer) (done bool, err error) {
	switch cmd {
	case "clients list", "users list", "keys list":
	default:
		return false, nil
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return true, err
	}
	if !*asJSON {
		return false, nil
	}
	var v any
	switch cmd {
	case "clients list":
		cs, err := db.ListClients(ctx)
		if err != nil {
			return true, err
		}
		list := make([]clientJSON, len(cs))
		for i, c := range cs {
			list[i] = clientJSON{
				ID: c.ID, Name: c.Name, Public: c.Public, RedirectURIs: nonNil(c.RedirectURIs),
				GrantTypes: nonNil(c.GrantTypes), ResponseTypes: nonNil(c.ResponseTypes), Scopes: nonNil(c.Scopes),
				Audience: nonNil(c.Audience), TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
				Introspect: c.Introspect, AccessTokenFormat: c.AccessTokenFormat, IDTokenAlg: c.IDTokenAlg,
				CreatedAt: c.CreatedAt.UTC(),
			}
		}
		v = list
	case "users list":
		us, err := db.ListUsers(ctx)
		if err != nil {
			return true, err
		}
		list := make([]userJSON, len(us))
		for i, u := range us {
			list[i] = userJSON{Subject: u.ID, Username: u.Username, CreatedAt: u.CreatedAt.UTC()}
		}
		v = list
	case "keys list":
		if len(cfg.Secret) < 32 {
			return true, errors.New("AUTHD_SECRET (at least 32 bytes) is needed to manage signing keys")
		}
		m, err := keys.New(db, cfg.Secret)
		if err != nil {
			return true, err
		}
		ks, err := m.List(ctx)
		if err != nil {
			return true, err
		}
		if ks == nil {
			ks = []keys.KeyInfo{}
		}
		v = ks
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return true, enc.Encode(v)
}

type clientJSON struct {
	ID                      string    `json:"id"`
	Name                    string    `json:"name"`
	Public                  bool      `json:"public"`
	RedirectURIs            []string  `json:"redirect_uris"`
	GrantTypes              []string  `json:"grant_types"`
	ResponseTypes           []string  `json:"response_types"`
	Scopes                  []string  `json:"scopes"`
	Audience                []string  `json:"audience"`
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method,omitempty"`
	Introspect              bool      `json:"introspect"`
	AccessTokenFormat       string    `json:"access_token_format"`
	IDTokenAlg              string    `json:"id_token_signed_response_alg"`
	CreatedAt               time.Time `json:"created_at"`
}

type userJSON struct {
	Subject   string    `json:"subject"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
