package grants

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
)

// poisonRecords refuses, as Postgres does a row it cannot store, every
// TouchGrants batch holding one of the poisoned grants.
type poisonRecords struct {
	*fakeRecords
	poison map[string]bool
	calls  int
	down   bool
}

func (p *poisonRecords) TouchGrants(ctx context.Context, us []storage.GrantUsage) error {
	p.calls++
	if p.down {
		return fmt.Errorf("postgres: touch grants: %w", storage.ErrUnavailable)
	}
	for _, u := range us {
		if p.poison[u.ID] || !utf8.ValidString(u.IP) {
			return errors.New(`postgres: touch grants: ERROR: invalid byte sequence for encoding "UTF8" (SQLSTATE 22021)`)
		}
	}
	return p.fakeRecords.TouchGrants(ctx, us)
}

func touchedIDs(recs *fakeRecords) []string {
	var ids []string
	for _, b := range recs.touched {
		for _, u := range b {
			ids = append(ids, u.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// Finding 5 of issue 15: one row Postgres refuses must not block the
// others' usage, now or in later flushes.
func TestFlushUsageIsolatesABadRow(t *testing.T) {
	m, _, recs, _ := fixture()
	p := &fakePending{}
	pr := &poisonRecords{fakeRecords: recs, poison: map[string]bool{"x": true}}
	m.pending, m.records = p, pr
	ctx := context.Background()
	for _, g := range []string{"a", "x", "b"} {
		_ = m.RecordUsage(ctx, g, "10.0.0.1", t0, t0.Add(time.Hour))
	}
	n, err := m.FlushUsage(ctx)
	if err != nil || n != 2 {
		t.Errorf("flush = %d, %v; want the 2 good usages written", n, err)
	}
	if got := touchedIDs(recs); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("written %v, want [a b]", got)
	}
	if len(p.returned) != 0 || len(p.queued) != 0 {
		t.Errorf("the bad row was kept (%v returned): it would fail every later flush", p.returned)
	}
	// An outage is not a bad row: everything goes back, at once.
	pr.down, pr.calls = true, 0
	_ = m.RecordUsage(ctx, "a", "10.0.0.1", t0.Add(time.Second), t0.Add(time.Hour))
	_ = m.RecordUsage(ctx, "b", "10.0.0.1", t0.Add(time.Second), t0.Add(time.Hour))
	if n, err := m.FlushUsage(ctx); !errors.Is(err, storage.ErrUnavailable) || n != 0 || len(p.returned) != 2 || pr.calls != 1 {
		t.Errorf("flush during an outage = %d, %v, %d returned, %d statements", n, err, len(p.returned), pr.calls)
	}
}

// Usage recorded before strings were cleaned (or by an older authd) is
// repaired on its way to Postgres: invalid UTF-8 and control characters
// never reach the row; a User-Agent an older authd queued is dropped
// (storage.GrantUsage has none: a refresh never changes the device).
func TestFlushUsageRepairsStrings(t *testing.T) {
	m, _, recs, _ := fixture()
	p := &fakePending{}
	m.pending, m.records = p, &poisonRecords{fakeRecords: recs}
	ctx := context.Background()
	p.queued = append(p.queued, usageOf("a", "10.0.0.1\x00", "Mozilla \xff\xfe\x07bad", t0), usageOf("b", "10.0.0.2", "fine", t0))
	if n, err := m.FlushUsage(ctx); err != nil || n != 2 {
		t.Fatalf("flush = %d, %v", n, err)
	}
	for _, b := range recs.touched {
		for _, u := range b {
			if !utf8.ValidString(u.IP) || u.IP == "10.0.0.1\x00" {
				t.Errorf("stored %q", u.IP)
			}
		}
	}

}

func usageOf(grant, ip, ua string, at time.Time) redisstore.Usage {
	return redisstore.Usage{Grant: grant, IP: ip, UserAgent: ua, At: at, Expires: at.Add(time.Hour)}
}
