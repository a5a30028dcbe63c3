package account

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/authd/authd/grants"
	"github.com/authd/authd/storage"
)

// fakeGrants holds one user's grants as the grants home lists them.
type fakeGrants struct {
	views   []grants.View
	revoked []string
}

func (f *fakeGrants) List(_ context.Context, _ string, activeOnly bool) ([]grants.View, error) {
	var out []grants.View
	for _, v := range f.views {
		if !activeOnly || v.Active {
			out = append(out, v)
		}
	}
	return out, nil
}

func (f *fakeGrants) RevokeFor(context.Context, string, string, string) error { return nil }

func (f *fakeGrants) RevokeAll(context.Context, string, string, ...string) ([]string, error) {
	return nil, nil
}

func (f *fakeGrants) RevokeClientFor(_ context.Context, _, clientID, _ string) ([]string, error) {
	var ids []string
	for i, v := range f.views {
		if v.ClientID == clientID && v.Active {
			f.views[i].Active = false
			ids = append(ids, v.ID)
		}
	}
	f.revoked = append(f.revoked, ids...)
	return ids, nil
}

// fakeConsents is the user's remembered consents.
type fakeConsents struct {
	cs  []storage.Consent
	err error
}

func (f *fakeConsents) ListConsents(context.Context, string) ([]storage.Consent, error) {
	return f.cs, nil
}

func (f *fakeConsents) DeleteConsent(_ context.Context, _, clientID string) error {
	if f.err != nil {
		return f.err
	}
	i := slices.IndexFunc(f.cs, func(c storage.Consent) bool { return c.ClientID == clientID })
	if i < 0 {
		return storage.ErrNotFound
	}
	f.cs = slices.Delete(f.cs, i, i+1)
	return nil
}

func appsFixture() (Apps, *fakeGrants, *fakeConsents) {
	g := &fakeGrants{views: []grants.View{
		{ID: "w1", ClientID: "web", ClientName: "Web", Scopes: []string{"openid"}, Active: true},
		{ID: "w2", ClientID: "web", ClientName: "Web", Scopes: []string{"openid"}, Active: true},
		{ID: "w3", ClientID: "web", ClientName: "Web", Active: false},
		{ID: "t1", ClientID: "tv", ClientName: "TV", Scopes: []string{"openid", "offline_access"}, Active: true},
		{ID: "t2", ClientID: "tv", ClientName: "TV", Scopes: []string{"profile"}, Active: true},
	}}
	c := &fakeConsents{cs: []storage.Consent{
		{ClientID: "web", ClientName: "Web", Scopes: []string{"openid", "profile"}},
		{ClientID: "old", ClientName: "Old", Scopes: nil},
	}}
	return Apps{Grants: g, Consents: c}, g, c
}

func TestAppsList(t *testing.T) {
	a, _, _ := appsFixture()
	got, err := a.List(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := []App{
		{ClientID: "web", ClientName: "Web", Scopes: []string{"openid", "profile"}, ConsentRemembered: true, LiveGrants: 2},
		{ClientID: "old", ClientName: "Old", Scopes: []string{}, ConsentRemembered: true},
		// The device flow remembers no consent: listed by its live grants.
		{ClientID: "tv", ClientName: "TV", Scopes: []string{"offline_access", "openid", "profile"}, LiveGrants: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ClientID != w.ClientID || g.ClientName != w.ClientName || !slices.Equal(g.Scopes, w.Scopes) ||
			g.Scopes == nil || g.ConsentRemembered != w.ConsentRemembered || g.LiveGrants != w.LiveGrants {
			t.Errorf("app %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestAppsRemove(t *testing.T) {
	ctx := context.Background()
	a, g, c := appsFixture()
	if err := a.Remove(ctx, "alice", "web"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.revoked, []string{"w1", "w2"}) || len(c.cs) != 1 || c.cs[0].ClientID != "old" {
		t.Errorf("after removing web: revoked %v, consents %+v", g.revoked, c.cs)
	}
	// An app with grants and no consent, and one with a consent and no
	// grants, can both be removed; then nothing is left: not found.
	for _, id := range []string{"tv", "old"} {
		if err := a.Remove(ctx, "alice", id); err != nil {
			t.Errorf("remove %s: %v", id, err)
		}
	}
	for _, id := range []string{"web", "tv", "nope"} {
		if err := a.Remove(ctx, "alice", id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("remove %s again: %v, want ErrNotFound", id, err)
		}
	}
	// A consent store outage stops before any grant is revoked.
	a, g, c = appsFixture()
	c.err = storage.ErrUnavailable
	if err := a.Remove(ctx, "alice", "web"); !errors.Is(err, storage.ErrUnavailable) || len(g.revoked) != 0 {
		t.Errorf("remove with consents down: %v, revoked %v", err, g.revoked)
	}
}
