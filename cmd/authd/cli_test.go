package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCLIOpensOnlyTheStoresItNeeds: with an AUTHD_REDIS_URL that cannot
// be used, the Postgres-only commands work; those that touch tokens fail.
func TestCLIOpensOnlyTheStoresItNeeds(t *testing.T) {
	s := startServer(t)
	c := s.App.Config
	t.Setenv("AUTHD_DATABASE_URL", c.DatabaseURL)
	t.Setenv("AUTHD_DATABASE_SCHEMA", c.DatabaseSchema)
	t.Setenv("AUTHD_SECRET", string(c.Secret))
	t.Setenv("AUTHD_REDIS_URL", "nonsense://nowhere")
	for _, args := range [][]string{
		{"migrate"}, {"users", "create", "--username", "pat", "--password", "pat-password-1"}, {"users", "list"},
		{"clients", "create", "--id", "svc", "--grant-types", "client_credentials"}, {"clients", "list", "--json"},
		{"keys", "list"}, {"keys", "rotate", "--alg", "ES256"}, {"demo"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, &out); err != nil {
			t.Errorf("%v without Redis: %v", args, err)
		}
	}
	// clients delete ends the client's tokens in Redis (the grants home), as
	// users update and users delete end the user's.
	for _, args := range [][]string{{"janitor"}, {"grants", "list", "--subject", "x"}, {"clients", "delete", "--id", "svc"},
		{"users", "update", "--username", "pat", "--disabled"}, {"users", "delete", "--username", "pat"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, &out); err == nil || !strings.Contains(err.Error(), "AUTHD_REDIS_URL") {
			t.Errorf("%v without Redis: %v, want the Redis URL refused", args, err)
		}
	}
}

// TestCLIUsageErrors: unknown commands and flags are usage errors (exit 2),
// found before any store is opened.
func TestCLIUsageErrors(t *testing.T) {
	t.Setenv("AUTHD_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
	for _, args := range [][]string{nil, {"frobnicate"}, {"clients"}, {"clients", "frob"}, {"grants"}} {
		if err := run(context.Background(), args, new(bytes.Buffer), new(bytes.Buffer)); exitCode(err) != 2 || err.Error() != usage {
			t.Errorf("%v: %v, want the usage", args, err)
		}
	}
}
