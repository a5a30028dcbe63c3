package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/storage"
)

func TestListCommandsJSON(t *testing.T) {
	s := startServer(t)
	sub := s.addUser(t, "jason", "jason-password-1")
	s.addClient(t, storage.Client{ID: "svc", Name: "Service", GrantTypes: []string{"client_credentials"}, Introspect: true}, "svc-secret-0123456789abcdef")
	s.addClient(t, storage.Client{ID: "app", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"http://127.0.0.1/cb"}}, "")

	out, err := cli(t, s, "clients", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []map[string]any
	if err := json.Unmarshal([]byte(out), &cs); err != nil || len(cs) != 2 {
		t.Fatalf("clients list --json: %v\n%s", err, out)
	}
	byID := map[string]map[string]any{}
	for _, c := range cs {
		byID[c["id"].(string)] = c
	}
	if c := byID["svc"]; c["name"] != "Service" || c["public"] != false || c["introspect"] != true || c["created_at"] == "" {
		t.Errorf("svc: %v", c)
	}
	if c := byID["app"]; c["public"] != true || len(c["redirect_uris"].([]any)) != 1 || c["scopes"] == nil {
		t.Errorf("app: %v (empty lists must be [] not null)", c)
	}
	if strings.Contains(strings.ToLower(out), "secret") || strings.Contains(strings.ToLower(out), "hash") {
		t.Errorf("client JSON mentions secrets: %s", out)
	}

	out, err = cli(t, s, "users", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var us []map[string]any
	if err := json.Unmarshal([]byte(out), &us); err != nil || len(us) != 1 || us[0]["username"] != "jason" || us[0]["subject"] != sub {
		t.Fatalf("users list --json: %v\n%s", err, out)
	}
	if strings.Contains(out, "argon2") || strings.Contains(out, "password") {
		t.Errorf("user JSON leaks the password hash: %s", out)
	}

	out, err = cli(t, s, "keys", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ks []map[string]any
	if err := json.Unmarshal([]byte(out), &ks); err != nil || len(ks) == 0 {
		t.Fatalf("keys list --json: %v\n%s", err, out)
	}
	signing := 0
	for _, k := range ks {
		if k["alg"] == "RS256" && k["current"] == true && k["kid"] != "" && k["created_at"] != "" && k["active_at"] != "" {
			signing++
		}
	}
	if signing != 1 {
		t.Errorf("keys list --json: want one current RS256 key:\n%s", out)
	}
	if strings.Contains(out, "PRIVATE") || strings.Contains(out, "\"d\"") {
		t.Errorf("key JSON leaks private material: %s", out)
	}

	// Without --json: the tables, unchanged.
	if out, err := cli(t, s, "users", "list"); err != nil || !strings.HasPrefix(out, "USERNAME") {
		t.Errorf("users list: %v %q", err, out)
	}
	if out, err := cli(t, s, "clients", "list"); err != nil || !strings.HasPrefix(out, "ID") {
		t.Errorf("clients list: %v %q", err, out)
	}
	if out, err := cli(t, s, "keys", "list"); err != nil || !strings.HasPrefix(out, "KID") {
		t.Errorf("keys list: %v %q", err, out)
	}
	if _, err := cli(t, s, "users", "list", "--yaml"); exitCode(err) != 2 {
		t.Errorf("unknown flag: %v, want a usage error", err)
	}
}

func TestListJSONEmptyIsArray(t *testing.T) {
	s := startServer(t)
	for _, cmd := range [][]string{{"clients", "list", "--json"}, {"users", "list", "--json"}} {
		out, err := cli(t, s, cmd...)
		if err != nil || strings.TrimSpace(out) != "[]" {
			t.Errorf("%v: %v %q, want []", cmd, err, out)
		}
	}
}

func TestKeysListShowsPendingKey(t *testing.T) {
	s := startServer(t)
	if _, err := s.App.Keys.Rotate(context.Background(), "RS256", time.Hour); err != nil {
		t.Fatal(err)
	}
	out, err := cli(t, s, "keys", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "signing") || !strings.Contains(out, "pending") {
		t.Errorf("keys list after a rotation with lead:\n%s", out)
	}
}
