package grants

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/redisstore"
)

// family is one grant's state in fakeFamilies.
type family struct {
	user    bool // a user's family (u=1); false: a client's lone access token
	live    bool // present in Redis
	revoked bool // tombstone
}

// fakeFamilies behaves as redisstore's family scripts do.
type fakeFamilies struct {
	fams    map[string]*family
	revokes []string // RevokeFamily calls, by grant
	asked   [][]string
	err     error
}

func newFakeFamilies() *fakeFamilies { return &fakeFamilies{fams: map[string]*family{}} }

func (f *fakeFamilies) RevokeFamily(_ context.Context, grant string, _ time.Duration) (redisstore.Ended, error) {
	if f.err != nil {
		return redisstore.EndedNothing, f.err
	}
	f.revokes = append(f.revokes, grant)
	fm, ok := f.fams[grant]
	if !ok {
		f.fams[grant] = &family{revoked: true}
		return redisstore.EndedNothing, nil
	}
	was, live := fm.revoked, fm.live
	fm.revoked, fm.live = true, false
	switch {
	case was || !live:
		return redisstore.EndedNothing, nil
	case fm.user:
		return redisstore.EndedGrant, nil
	}
	return redisstore.EndedToken, nil
}

func (f *fakeFamilies) FamiliesLive(_ context.Context, ids []string) ([]bool, error) {
	f.asked = append(f.asked, ids)
	out := make([]bool, len(ids))
	for i, id := range ids {
		fm, ok := f.fams[id]
		out[i] = ok && fm.live && !fm.revoked
	}
	return out, nil
}

// fakeRecords keeps grant rows as postgres does.
type fakeRecords struct {
	rows     []storage.Grant
	updates  int // RevokeGrant calls
	touched  [][]storage.GrantUsage
	touchErr error
}

func (f *fakeRecords) find(id string) int {
	return slices.IndexFunc(f.rows, func(g storage.Grant) bool { return g.ID == id })
}

func (f *fakeRecords) GetGrant(_ context.Context, id string) (storage.Grant, error) {
	if i := f.find(id); i >= 0 {
		return f.rows[i], nil
	}
	return storage.Grant{}, storage.ErrNotFound
}

func (f *fakeRecords) ListGrants(_ context.Context, subject string) ([]storage.Grant, error) {
	var out []storage.Grant
	for _, g := range f.rows {
		if g.Subject == subject {
			out = append(out, g)
		}
	}
	return out, nil
}

func (f *fakeRecords) CountGrants(ctx context.Context, subject string) (int, error) {
	gs, err := f.ListGrants(ctx, subject)
	return len(gs), err
}

func (f *fakeRecords) RevokeGrant(_ context.Context, id, reason string, at time.Time) (storage.Grant, error) {
	f.updates++
	i := f.find(id)
	if i < 0 {
		return storage.Grant{}, storage.ErrNotFound
	}
	if f.rows[i].RevokedAt == nil {
		f.rows[i].RevokedAt, f.rows[i].RevokeReason = &at, reason
	}
	return f.rows[i], nil
}

func (f *fakeRecords) TouchGrants(_ context.Context, us []storage.GrantUsage) error {
	if f.touchErr != nil {
		return f.touchErr
	}
	f.touched = append(f.touched, us)
	return nil
}

// fakeClients names clients and counts lookups.
type fakeClients struct {
	names   map[string]string
	lookups int
}

func (f *fakeClients) ClientName(_ context.Context, id string) (string, error) {
	f.lookups++
	if n, ok := f.names[id]; ok {
		return n, nil
	}
	return "", storage.ErrNotFound
}

// fakePending is the Redis usage queue.
type fakePending struct {
	queued   []redisstore.Usage
	returned []redisstore.Usage
}

func (f *fakePending) RecordUsage(_ context.Context, grant, ip, ua string, at, exp time.Time) error {
	f.queued = append(f.queued, redisstore.Usage{Grant: grant, IP: ip, UserAgent: ua, At: at, Expires: exp})
	return nil
}

func (f *fakePending) TakeUsages(context.Context) ([]redisstore.Usage, error) {
	us := f.queued
	f.queued = nil
	return us, nil
}

func (f *fakePending) ReturnUsages(_ context.Context, us []redisstore.Usage) error {
	f.returned = append(f.returned, us...)
	return nil
}

// fakeSweeper pages over expired unrevoked ids as postgres.LiveGrants does.
type fakeSweeper struct {
	expired []string // unrevoked, past their recorded end, in order
	marked  []string
	ended   int // rows ended long ago, to delete
}

func (f *fakeSweeper) LiveGrants(_ context.Context, _, _ time.Time, after postgres.LiveGrantCursor, limit int) ([]string, postgres.LiveGrantCursor, error) {
	start := 0
	if after.ID != "" {
		start = slices.Index(f.expired, after.ID) + 1
	}
	ids := f.expired[start:min(start+limit, len(f.expired))]
	if len(ids) < limit {
		return ids, postgres.LiveGrantCursor{}, nil
	}
	return ids, postgres.LiveGrantCursor{ID: ids[len(ids)-1], ExpiresAt: time.Unix(1, 0)}, nil
}

func (f *fakeSweeper) MarkGrantsExpired(_ context.Context, ids []string, _ time.Time) (int, error) {
	f.marked = append(f.marked, ids...)
	return len(ids), nil
}

func (f *fakeSweeper) DeleteEndedGrants(_ context.Context, _ time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, errors.New("limit")
	}
	n := min(limit, f.ended)
	f.ended -= n
	return n, nil
}
