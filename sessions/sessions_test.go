package sessions

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authd/authd/storage"
)

// fakeStore holds one session; only DeleteSession is used.
type fakeStore struct {
	Store
	b storage.BrowserSession
}

func (f *fakeStore) DeleteSession(context.Context, string, time.Time) (storage.BrowserSession, error) {
	if f.b.ID == "" {
		return storage.BrowserSession{}, storage.ErrNotFound
	}
	b := f.b
	f.b = storage.BrowserSession{}
	return b, nil
}

type fakeGrants struct{ revoked []string }

func (g *fakeGrants) Revoke(_ context.Context, id, reason string) error {
	g.revoked = append(g.revoked, id+":"+reason)
	if id == "broken" {
		return errors.New("unavailable")
	}
	return nil
}

type fakeListener struct{ got []Ended }

func (l *fakeListener) SessionEnded(_ context.Context, e Ended) { l.got = append(l.got, e) }

// TestEndRevokesOnlineGrants: ending a session revokes its grants without
// offline_access (a failure does not stop the others or the listeners),
// keeps the offline ones, and reports each client once.
func TestEndRevokesOnlineGrants(t *testing.T) {
	st := &fakeStore{b: storage.BrowserSession{ID: "s1", Subject: "u", Grants: []storage.SessionGrant{
		{Grant: "g1", Client: "a"}, {Grant: "g2", Client: "a", Offline: true}, {Grant: "broken", Client: "b"}, {Grant: "g3", Client: "b"},
	}}}
	g, l := &fakeGrants{}, &fakeListener{}
	m := New(Config{Store: st, Grants: g, Listeners: []Listener{l}})
	if err := m.End(context.Background(), "s1", storage.RevokedLogout); err == nil {
		t.Error("a failed revocation was not reported")
	}
	if want := []string{"g1:logout", "broken:logout", "g3:logout"}; !slices.Equal(g.revoked, want) {
		t.Errorf("revoked %v, want %v", g.revoked, want)
	}
	if len(l.got) != 1 || l.got[0].Session.ID != "s1" || l.got[0].Reason != storage.RevokedLogout || !slices.Equal(l.got[0].Clients, []string{"a", "b"}) {
		t.Errorf("listener got %+v", l.got)
	}
	if err := m.End(context.Background(), "s1", storage.RevokedLogout); !errors.Is(err, storage.ErrNotFound) || len(l.got) != 1 {
		t.Errorf("ending it again: %v (listener calls %d)", err, len(l.got))
	}
}

// TestExpiry: a session used at now expires after the idle timeout, never
// past its absolute end; without an idle timeout at its end.
func TestExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := now.Add(2 * time.Hour)
	if got := New(Config{TTL: 24 * time.Hour, Idle: time.Hour}).expiry(now, end); !got.Equal(now.Add(time.Hour)) {
		t.Errorf("idle: %v", got)
	}
	if got := New(Config{TTL: 24 * time.Hour, Idle: 3 * time.Hour}).expiry(now, end); !got.Equal(end) {
		t.Errorf("idle past the end: %v", got)
	}
	if got := New(Config{TTL: 24 * time.Hour}).expiry(now, end); !got.Equal(end) {
		t.Errorf("no idle timeout: %v", got)
	}
}

// fakeDueStore serves Sweep: due lists ids per round, expired the sessions
// the sweep's delete takes (others are live or gone).
type fakeDueStore struct {
	Store
	rounds  [][]string
	expired map[string]storage.BrowserSession
	reads   int
}

func (f *fakeDueStore) DueSessions(context.Context, time.Time, int) ([]string, bool, error) {
	f.reads++
	if f.reads > len(f.rounds) {
		return nil, false, nil
	}
	return f.rounds[f.reads-1], true, nil
}

func (f *fakeDueStore) DeleteExpiredSession(_ context.Context, sid string, _ time.Time) (storage.BrowserSession, error) {
	b, ok := f.expired[sid]
	if !ok {
		return storage.BrowserSession{}, storage.ErrNotFound
	}
	delete(f.expired, sid)
	return b, nil
}

// TestSweep: a sweep ends what its store's delete takes (reason expired,
// online grants revoked, listeners told), skips the rest, reads again
// while the due index has more, and stops after sweepRounds.
func TestSweep(t *testing.T) {
	st := &fakeDueStore{
		rounds: [][]string{{"s1", "live"}, {"s2"}},
		expired: map[string]storage.BrowserSession{
			"s1": {ID: "s1", Subject: "u", Grants: []storage.SessionGrant{{Grant: "g1", Client: "a"}, {Grant: "g2", Client: "a", Offline: true}}},
			"s2": {ID: "s2", Subject: "u"},
		},
	}
	g, l := &fakeGrants{}, &fakeListener{}
	m := New(Config{Store: st, Grants: g, Listeners: []Listener{l}})
	n, err := m.Sweep(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("sweep: %d %v, want 2", n, err)
	}
	if !slices.Equal(g.revoked, []string{"g1:expired"}) {
		t.Errorf("revoked %v", g.revoked)
	}
	if len(l.got) != 2 || l.got[0].Reason != storage.RevokedExpired || !slices.Equal(l.got[0].Clients, []string{"a"}) || l.got[1].Session.ID != "s2" {
		t.Errorf("listener got %+v", l.got)
	}
	if st.reads != 3 {
		t.Errorf("%d reads of the due index, want 3 (two with more, one empty)", st.reads)
	}
	busy := &fakeDueStore{rounds: make([][]string, 100)}
	if _, err := New(Config{Store: busy}).Sweep(context.Background()); err != nil || busy.reads != sweepRounds {
		t.Errorf("a due index that always has more: %d reads (%v), want %d", busy.reads, err, sweepRounds)
	}
}
