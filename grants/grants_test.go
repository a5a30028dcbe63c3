package grants

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture: alice has a (live), b (family gone, row not swept), c (revoked
// by the user); bob has d (live).
func fixture() (*Manager, *fakeFamilies, *fakeRecords, *fakeClients) {
	revokedAt := t0.Add(-time.Hour)
	recs := &fakeRecords{rows: []storage.Grant{
		{ID: "a", Subject: "alice", ClientID: "app", UserAgent: "ua-a", LastUsedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(time.Hour)},
		{ID: "b", Subject: "alice", ClientID: "app", LastUsedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(time.Hour)},
		{ID: "c", Subject: "alice", ClientID: "cli", LastUsedAt: t0.Add(-3 * time.Hour), ExpiresAt: t0.Add(time.Hour), RevokedAt: &revokedAt, RevokeReason: storage.RevokedByUser},
		{ID: "d", Subject: "bob", ClientID: "app", ExpiresAt: t0.Add(time.Hour)},
	}}
	fams := newFakeFamilies()
	fams.fams["a"] = &family{user: true, live: true}
	fams.fams["c"] = &family{user: true, live: true} // revoked row: never asked about
	fams.fams["d"] = &family{user: true, live: true}
	cl := &fakeClients{names: map[string]string{"app": "The App"}}
	m := New(Config{Families: fams, Records: recs, Clients: cl, DeviceLabel: func(ua string) string { return "label:" + ua }})
	m.now = func() time.Time { return t0 }
	return m, fams, recs, cl
}

func ids(vs []View) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func TestActiveIsUnrevokedAndLive(t *testing.T) {
	m, fams, _, _ := fixture()
	ctx := context.Background()
	all, err := m.List(ctx, "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	active := map[string]bool{}
	for _, v := range all {
		active[v.ID] = v.Active
	}
	if want := map[string]bool{"a": true, "b": false, "c": false}; !mapsEqual(active, want) {
		t.Errorf("active = %v, want %v", active, want)
	}
	if len(fams.asked) != 1 || !slices.Equal(fams.asked[0], []string{"a", "b"}) {
		t.Errorf("Redis asked about %v, want only the unrevoked rows in one call", fams.asked)
	}
	only, _ := m.List(ctx, "alice", true)
	if got := ids(only); !slices.Equal(got, []string{"a"}) {
		t.Errorf("active list = %v, want [a]", got)
	}
	if n, _ := m.Count(ctx, "alice", true); n != 1 {
		t.Errorf("active count = %d, want 1", n)
	}
	if n, _ := m.Count(ctx, "alice", false); n != 3 {
		t.Errorf("count = %d, want 3", n)
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestListNamesClientsOnceAndLabelsDevices(t *testing.T) {
	m, _, _, cl := fixture()
	vs, err := m.List(context.Background(), "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	if cl.lookups != 2 {
		t.Errorf("%d client lookups for two clients, want 2", cl.lookups)
	}
	if vs[0].ClientName != "The App" || vs[2].ClientName != "" {
		t.Errorf("client names %q %q, want the app's and empty for an unknown client", vs[0].ClientName, vs[2].ClientName)
	}
	if vs[0].Device != "label:ua-a" {
		t.Errorf("device label %q", vs[0].Device)
	}
	if vs[1].Scopes == nil {
		t.Error("nil scopes: JSON would say null, not []")
	}
}

func TestRevokeForChecksOwnership(t *testing.T) {
	m, fams, recs, _ := fixture()
	ctx := context.Background()
	for _, id := range []string{"d", "nope"} {
		if err := m.RevokeFor(ctx, "alice", id, storage.RevokedByUser); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("alice revoking %s: %v, want ErrNotFound", id, err)
		}
	}
	if len(fams.revokes) != 0 || recs.updates != 0 {
		t.Errorf("a refused revocation touched Redis %v or Postgres %d", fams.revokes, recs.updates)
	}
	if err := m.RevokeFor(ctx, "", "d", storage.RevokedByAdmin); err != nil {
		t.Fatalf("admin (any subject): %v", err)
	}
	if g, _ := recs.GetGrant(ctx, "d"); g.RevokeReason != storage.RevokedByAdmin {
		t.Errorf("d's reason %q", g.RevokeReason)
	}
}

func TestRevokeEndsFamilyThenRowOnce(t *testing.T) {
	for _, id := range []string{"a", "b"} { // live family; family gone, row not swept
		m, fams, recs, _ := fixture()
		if err := m.RevokeFor(context.Background(), "alice", id, storage.RevokedByUser); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(fams.revokes, []string{id}) || recs.updates != 1 {
			t.Errorf("%s: Redis revocations %v, row updates %d; want each once", id, fams.revokes, recs.updates)
		}
		if g, _ := recs.GetGrant(context.Background(), id); g.RevokedAt == nil || !g.RevokedAt.Equal(t0) || g.RevokeReason != storage.RevokedByUser {
			t.Errorf("%s: row %+v", id, g)
		}
	}
}

func TestRevokingTwiceKeepsFirstReason(t *testing.T) {
	m, fams, recs, _ := fixture()
	ctx := context.Background()
	if err := m.RevokeFor(ctx, "alice", "a", storage.RevokedByUser); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeFor(ctx, "", "a", storage.RevokedByAdmin); err != nil {
		t.Fatal(err)
	}
	if err := m.Revoke(ctx, "a", storage.RevokedReuse); err != nil {
		t.Fatal(err)
	}
	g, _ := recs.GetGrant(ctx, "a")
	if g.RevokeReason != storage.RevokedByUser {
		t.Errorf("reason %q, want the first (user)", g.RevokeReason)
	}
	if recs.updates != 1 || len(fams.revokes) != 3 {
		t.Errorf("row updates %d (want 1: a revoked row is not written again), Redis %d", recs.updates, len(fams.revokes))
	}
	if n := counted(t, m, storage.RevokedByUser); n != 1 {
		t.Errorf("user revocations counted %v, want 1", n)
	}
	if n := counted(t, m, storage.RevokedByAdmin) + counted(t, m, storage.RevokedReuse); n != 0 {
		t.Errorf("%v later revocations counted, want only the one that ended the grant", n)
	}
}

func TestRevokeAllKeeps(t *testing.T) {
	m, fams, recs, _ := fixture()
	recs.rows = append(recs.rows, storage.Grant{ID: "e", Subject: "alice", ExpiresAt: t0.Add(-time.Hour)})
	got, err := m.RevokeAll(context.Background(), "alice", storage.RevokedLogoutAll, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"b", "e"}) {
		t.Errorf("revoked %v, want [b e]: not the kept a, not the revoked c, past-expiry e included", got)
	}
	if fams.fams["a"].revoked {
		t.Error("the kept grant's family was revoked")
	}
	if g, _ := recs.GetGrant(context.Background(), "c"); g.RevokeReason != storage.RevokedByUser {
		t.Errorf("c's reason changed to %q", g.RevokeReason)
	}
}

// An app removed by the user: only that client's grants of that user end.
func TestRevokeClientFor(t *testing.T) {
	m, fams, recs, _ := fixture()
	recs.rows = append(recs.rows, storage.Grant{ID: "f", Subject: "alice", ClientID: "other", ExpiresAt: t0.Add(time.Hour)})
	got, err := m.RevokeClientFor(context.Background(), "alice", "app", storage.RevokedByUser)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("revoked %v, want alice's app grants [a b]", got)
	}
	if !fams.fams["a"].revoked || fams.fams["d"] != nil && fams.fams["d"].revoked {
		t.Error("families: a must be revoked, bob's d untouched")
	}
	for id, want := range map[string]bool{"a": true, "b": true, "d": false, "f": false} {
		if g, _ := recs.GetGrant(context.Background(), id); (g.RevokedAt != nil) != want {
			t.Errorf("grant %s revoked=%v, want %v", id, g.RevokedAt != nil, want)
		}
	}
}

func TestRevokeAllReportsFailures(t *testing.T) {
	m, fams, _, _ := fixture()
	fams.err = errors.New("redis down")
	got, err := m.RevokeAll(context.Background(), "alice", storage.RevokedLogoutAll)
	if err == nil || len(got) != 0 {
		t.Errorf("RevokeAll with Redis down = %v, %v; want an error and nothing revoked", got, err)
	}
}

func TestProtocolRevokeMarksOnlyWhatItEnded(t *testing.T) {
	m, fams, recs, _ := fixture()
	ctx := context.Background()
	fams.fams["cc"] = &family{live: true} // a client_credentials token: no row
	if err := m.Revoke(ctx, "cc", storage.RevokedByClient); err != nil || recs.updates != 0 {
		t.Errorf("client token: %v, %d row updates; want none", err, recs.updates)
	}
	if err := m.Revoke(ctx, "b", storage.RevokedReuse); err != nil || recs.updates != 0 {
		t.Errorf("family already gone: %v, %d row updates; the protocol path leaves that to the janitor", err, recs.updates)
	}
	if err := m.Revoke(ctx, "a", storage.RevokedByClient); err != nil || recs.updates != 1 {
		t.Errorf("live user grant: %v, %d row updates; want 1", err, recs.updates)
	}
	if n := counted(t, m, storage.RevokedByClient); n != 2 {
		t.Errorf("client revocations counted %v, want 2 (the token and the grant)", n)
	}
}

func TestRecordRevokedMarksBornRow(t *testing.T) {
	m, fams, recs, _ := fixture()
	ctx := context.Background()
	// A code replayed while its exchange was writing the grant: the
	// revocation found no family yet and left a tombstone.
	if err := m.Revoke(ctx, "b", storage.RevokedCodeReplay); err != nil {
		t.Fatal(err)
	}
	if err := m.RecordRevoked(ctx, "b", storage.RevokedCodeReplay); err != nil {
		t.Fatal(err)
	}
	if g, _ := recs.GetGrant(ctx, "b"); g.RevokeReason != storage.RevokedCodeReplay || recs.updates != 1 || len(fams.revokes) != 1 {
		t.Errorf("row %+v after %d updates, %d scripts", g, recs.updates, len(fams.revokes))
	}
	if err := m.RecordRevoked(ctx, "gone", storage.RevokedCodeReplay); err != nil {
		t.Errorf("missing row: %v, want nil", err)
	}
}

func TestEndedAt(t *testing.T) {
	at := t0.Add(-time.Hour)
	for _, c := range []struct {
		name       string
		v          View
		wantAt     time.Time
		wantReason string
	}{
		{"revoked", View{RevokedAt: &at, RevokeReason: "user", ExpiresAt: t0.Add(time.Hour)}, at, "user"},
		{"active", View{Active: true, ExpiresAt: t0.Add(time.Hour)}, t0.Add(time.Hour), ""},
		{"gone before its recorded end", View{ExpiresAt: t0.Add(time.Hour), LastUsedAt: t0.Add(-time.Minute)}, t0.Add(-time.Minute), storage.RevokedExpired},
		{"slid past its recorded end", View{ExpiresAt: t0.Add(-2 * time.Hour), LastUsedAt: t0.Add(-time.Hour)}, t0.Add(-time.Hour), storage.RevokedExpired},
		{"expired at its recorded end", View{ExpiresAt: t0.Add(-time.Hour), LastUsedAt: t0.Add(-2 * time.Hour)}, t0.Add(-time.Hour), storage.RevokedExpired},
	} {
		gotAt, gotReason := ended(c.v, t0)
		if !gotAt.Equal(c.wantAt) || gotReason != c.wantReason {
			t.Errorf("%s: ended %v %q, want %v %q", c.name, gotAt, gotReason, c.wantAt, c.wantReason)
		}
	}
}

func TestFlushUsageReturnsWhatFailed(t *testing.T) {
	m, _, recs, _ := fixture()
	p := &fakePending{}
	m.pending = p
	ctx := context.Background()
	for i := 0; i < usageBatch+1; i++ {
		_ = m.RecordUsage(ctx, "a", "10.0.0.1", t0.Add(time.Duration(i)*time.Second), t0.Add(time.Hour))
	}
	n, err := m.FlushUsage(ctx)
	if err != nil || n != usageBatch+1 || len(recs.touched) != 2 {
		t.Fatalf("flush = %d, %v in %d statements; want %d in 2", n, err, len(recs.touched), usageBatch+1)
	}
	if u := recs.touched[0][0]; u.ID != "a" || u.IP != "10.0.0.1" || !u.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("usage %+v", u)
	}
	recs.touchErr = errors.New("postgres down")
	_ = m.RecordUsage(ctx, "a", "ip", t0, t0)
	if n, err := m.FlushUsage(ctx); err == nil || n != 0 || len(p.returned) != 1 {
		t.Errorf("failed flush = %d, %v, %d returned; want the usage handed back", n, err, len(p.returned))
	}
}

func TestSweepMarksGoneFamiliesAndDeletesOld(t *testing.T) {
	m, fams, _, _ := fixture()
	sw := &fakeSweeper{expired: []string{"a", "b", "x", "y", "z"}, ended: 5}
	m.sweeper = sw
	st, err := m.Sweep(context.Background(), JanitorOptions{Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sw.marked, []string{"b", "x", "y", "z"}) {
		t.Errorf("marked %v, want every page's grants whose family is gone (not a: live)", sw.marked)
	}
	if st != (JanitorStats{Expired: 4, Deleted: 5}) || sw.ended != 0 {
		t.Errorf("stats %+v, %d left to delete", st, sw.ended)
	}
	if len(fams.revokes) != 0 {
		t.Errorf("the janitor revoked families %v: it only records what Redis already dropped", fams.revokes)
	}
}

func TestEndedNothingIsZero(t *testing.T) {
	// fositestore and the fakes rely on the zero Ended meaning "nothing".
	var e redisstore.Ended
	if e != redisstore.EndedNothing {
		t.Fatal("zero Ended is not EndedNothing")
	}
}

// counted is authd_revocations_total{reason}.
func counted(t *testing.T, m *Manager, reason string) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.revocations.WithLabelValues(reason).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}
