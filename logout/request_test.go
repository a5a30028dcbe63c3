package logout

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"testing"

	"github.com/authd/authd/storage"
)

// fakeHints accepts the hints it knows.
type fakeHints map[string]map[string]any

func (f fakeHints) IDTokenHint(_ context.Context, raw string) (map[string]any, error) {
	if c, ok := f[raw]; ok {
		return c, nil
	}
	return nil, errors.New("not authd's")
}

type fakeClientMap map[string]*storage.Client

func (f fakeClientMap) Client(_ context.Context, id string) (*storage.Client, error) {
	if c, ok := f[id]; ok {
		return c, nil
	}
	return nil, storage.ErrNotFound
}

func TestDecide(t *testing.T) {
	alice := Session{ID: "sid-a", Subject: "alice"}
	hint := func(c map[string]any) request { return request{hint: c} }
	cases := []struct {
		name     string
		req      request
		cur      Session
		signedIn bool
		want     action
	}{
		{"nobody signed in", request{}, Session{}, false, actFinish},
		{"nobody signed in, with a hint", hint(map[string]any{"sub": "alice"}), Session{}, false, actFinish},
		{"no hint", request{}, alice, true, actConfirm},
		{"hint of this user", hint(map[string]any{"sub": "alice"}), alice, true, actSignOut},
		{"hint of this session", hint(map[string]any{"sub": "alice", "sid": "sid-a"}), alice, true, actSignOut},
		{"hint of another session", hint(map[string]any{"sub": "alice", "sid": "sid-b"}), alice, true, actConfirm},
		{"hint of another user", hint(map[string]any{"sub": "bob"}), alice, true, actConfirm},
		{"hint without sub", hint(map[string]any{}), alice, true, actConfirm},
	}
	for _, c := range cases {
		if got := decide(c.req, c.cur, c.signedIn); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	app := &storage.Client{ID: "app", PostLogoutRedirectURIs: []string{"https://app.example/bye"}}
	e := &EndSession{
		Hints: fakeHints{
			"h-app":   {"sub": "alice", "aud": "app"},
			"h-multi": {"sub": "alice", "aud": []any{"app", "other"}, "azp": "app"},
			"h-amb":   {"sub": "alice", "aud": []any{"app", "other"}},
		},
		Clients: fakeClientMap{"app": app, "other": {ID: "other"}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	cases := []struct {
		q            string
		bad          bool
		client, redi string
	}{
		{q: "id_token_hint=h-app&post_logout_redirect_uri=https://app.example/bye", client: "app", redi: "https://app.example/bye"},
		{q: "id_token_hint=h-multi&post_logout_redirect_uri=https://app.example/bye", client: "app", redi: "https://app.example/bye"},
		{q: "id_token_hint=h-amb", bad: true},
		{q: "id_token_hint=h-amb&client_id=other", client: "other"},
		{q: "id_token_hint=h-app&client_id=other", bad: true},
		{q: "id_token_hint=forged", bad: true},
		{q: "client_id=nope", bad: true},
		{q: "client_id=app&post_logout_redirect_uri=https://app.example/bye2", client: "app"},
		{q: "client_id=other&post_logout_redirect_uri=https://app.example/bye", client: "other"},
		{q: "post_logout_redirect_uri=https://app.example/bye"},
	}
	for _, c := range cases {
		f, _ := url.ParseQuery(c.q)
		req, err := e.parse(context.Background(), f)
		var bad badRequestError
		if c.bad != errors.As(err, &bad) {
			t.Errorf("%s: err %v, want bad request %v", c.q, err, c.bad)
			continue
		}
		if c.bad {
			continue
		}
		if got := clientName(req.client); got != c.client || req.redirect != c.redi {
			t.Errorf("%s: client %q redirect %q, want %q %q", c.q, got, req.redirect, c.client, c.redi)
		}
	}
}
