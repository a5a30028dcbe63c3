package users

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/authd/authd/storage"
)

// fakeStore keeps users in a map (the Store contract: ErrNotFound,
// ErrConflict on a taken username).
type fakeStore struct{ users map[string]storage.User }

func (f *fakeStore) CreateUser(_ context.Context, u *storage.User) error {
	if _, err := f.GetUserByUsername(context.Background(), u.Username); err == nil {
		return storage.ErrConflict
	}
	u.ID = "sub-" + u.Username
	f.users[u.ID] = *u
	return nil
}

func (f *fakeStore) GetUser(_ context.Context, id string) (*storage.User, error) {
	u, ok := f.users[id]
	if !ok {
		return nil, storage.ErrNotFound
	}
	return &u, nil
}

func (f *fakeStore) GetUserByUsername(_ context.Context, name string) (*storage.User, error) {
	for _, u := range f.users {
		if u.Username == name {
			return &u, nil
		}
	}
	return nil, storage.ErrNotFound
}

func (f *fakeStore) ModifyUser(_ context.Context, id string, change func(*storage.User) error) (*storage.User, error) {
	u, ok := f.users[id]
	if !ok {
		return nil, storage.ErrNotFound
	}
	if err := change(&u); err != nil {
		return nil, err
	}
	f.users[id] = u
	return &u, nil
}

func (f *fakeStore) ListUsersAfter(context.Context, string, int) ([]storage.User, error) {
	return nil, nil
}

func (f *fakeStore) DeleteUser(_ context.Context, id string) error {
	if _, ok := f.users[id]; !ok {
		return storage.ErrNotFound
	}
	delete(f.users, id)
	return nil
}

// fakeEnder records what was ended and what the store held for the
// subject at that moment; err makes it fail.
type fakeEnder struct {
	store *fakeStore
	calls []string // reason "@" disabled-at-the-time
	err   error
}

func (f *fakeEnder) note(subject, reason string) {
	state := "gone"
	if u, ok := f.store.users[subject]; ok {
		state = "enabled"
		if u.Disabled {
			state = "disabled"
		}
	}
	f.calls = append(f.calls, reason+"@"+state)
}

func (f *fakeEnder) RevokeAll(_ context.Context, subject, reason string, _ ...string) ([]string, error) {
	f.note(subject, reason)
	return nil, f.err
}

type fakeSessions struct{ fakeEnder }

func (f *fakeSessions) EndAll(_ context.Context, subject, reason string, _ ...string) (int, error) {
	f.note(subject, reason)
	return 0, f.err
}

func ptr[T any](v T) *T { return &v }

// TestServiceEndsWhatItMust: a profile change ends nothing; a new password
// or disabling (again too, so a retry finishes) ends the sessions and the
// grants after the record is written; a delete disables first and leaves
// the user disabled, not deleted, when ending its grants fails.
func TestServiceEndsWhatItMust(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{users: map[string]storage.User{}}
	g, ss := &fakeEnder{store: st}, &fakeSessions{fakeEnder{store: st}}
	s := &Service{Store: st, Grants: g, Sessions: ss}
	u, err := s.Create(ctx, Change{Username: ptr("ann"), Password: ptr("ann-password")})
	if err != nil || u.PasswordHash == "" || u.PasswordHash == "ann-password" {
		t.Fatalf("Create: %+v %v", u, err)
	}
	if _, err := s.Create(ctx, Change{Username: ptr("ann"), Password: ptr("other-password")}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("taken username: %v", err)
	}
	steps := []struct {
		c    Change
		want string
	}{
		{Change{Email: ptr("ann@example.com"), Disabled: ptr(false)}, ""},
		{Change{Password: ptr("new-password")}, storage.RevokedPasswordChanged + "@enabled"},
		{Change{Disabled: ptr(true)}, storage.RevokedUserDisabled + "@disabled"},
		{Change{Disabled: ptr(true)}, storage.RevokedUserDisabled + "@disabled"},
	}
	for _, step := range steps {
		g.calls, ss.calls = nil, nil
		if _, err := s.Update(ctx, u.ID, step.c); err != nil {
			t.Fatal(err)
		}
		want := []string{}
		if step.want != "" {
			want = []string{step.want}
		}
		if !slices.Equal(append([]string{}, g.calls...), want) || !slices.Equal(append([]string{}, ss.calls...), want) {
			t.Errorf("%+v: grants %v, sessions %v, want %v", step.c, g.calls, ss.calls, want)
		}
	}
	if got := st.users[u.ID]; got.Email != "ann@example.com" || !got.Disabled {
		t.Errorf("record: %+v", got)
	}

	b, _ := s.Create(ctx, Change{Username: ptr("ben"), Password: ptr("ben-password")})
	g.err = storage.ErrUnavailable
	if err := s.Delete(ctx, b.ID); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Delete with Redis down: %v", err)
	}
	if got, ok := st.users[b.ID]; !ok || !got.Disabled {
		t.Fatalf("after a failed delete: %+v %v, want the user kept, disabled", got, ok)
	}
	g.err, g.calls = nil, nil
	if err := s.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.users[b.ID]; ok || !slices.Equal(g.calls, []string{storage.RevokedUserDeleted + "@disabled"}) {
		t.Errorf("delete: still there %v, grants ended %v", ok, g.calls)
	}
	if err := s.Delete(ctx, b.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	// Without a sessions home only the grants are ended.
	s.Sessions = nil
	if _, err := s.Update(ctx, u.ID, Change{Password: ptr("third-password")}); err != nil {
		t.Fatal(err)
	}
}

// TestChangeProblems: every problem of a change is reported at once;
// creating needs a username and a password, a change needs neither.
func TestChangeProblems(t *testing.T) {
	var inv *InvalidError
	err := Change{Password: ptr("short"), Email: ptr(string([]byte{0xff}))}.check(true)
	if !errors.As(err, &inv) || len(inv.Problems) != 3 {
		t.Fatalf("create with a short password, no username, bad email: %v", err)
	}
	if err := (Change{Name: ptr("N")}).check(false); err != nil {
		t.Errorf("a change without username or password: %v", err)
	}
	for _, c := range []Change{{Username: ptr("")}, {Username: ptr(" pad")}, {Password: ptr("1234567")}} {
		if err := c.check(false); !errors.As(err, &inv) || len(inv.Problems) != 1 {
			t.Errorf("%+v: %v, want one problem", c, err)
		}
	}
}
