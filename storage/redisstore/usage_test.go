package redisstore_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/storage/storagetest"
)

func TestUsageRecordTakeReturn(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := storagetest.Redis(t)
	s := redisstore.New(rdb, prefix)
	t0 := time.UnixMilli(1_800_000_000_000).UTC()
	for i := 0; i < 50; i++ {
		if err := s.RecordUsage(ctx, fmt.Sprintf("g%d", i), "10.0.0.1", "ua|with|bars", t0, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// A later use of one grant replaces its earlier one.
	if err := s.RecordUsage(ctx, "g7", "10.0.0.2", "later", t0.Add(time.Second), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	us, err := s.TakeUsages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 50 {
		t.Fatalf("took %d usages, want 50", len(us))
	}
	sort.Slice(us, func(i, j int) bool { return us[i].Grant < us[j].Grant })
	for _, u := range us {
		want := redisstore.Usage{Grant: u.Grant, IP: "10.0.0.1", UserAgent: "ua|with|bars", At: t0}
		if u.Grant == "g7" {
			want = redisstore.Usage{Grant: "g7", IP: "10.0.0.2", UserAgent: "later", At: t0.Add(time.Second), Expires: t0.Add(time.Hour)}
		}
		if u != want {
			t.Errorf("usage %+v, want %+v", u, want)
		}
	}
	if again, _ := s.TakeUsages(ctx); len(again) != 0 {
		t.Errorf("taken twice: %d", len(again))
	}
	// Handing back after a failed flush keeps a newer use recorded meanwhile.
	if err := s.RecordUsage(ctx, "g1", "10.0.0.9", "newer", t0.Add(time.Minute), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReturnUsages(ctx, us[:3]); err != nil {
		t.Fatal(err)
	}
	back, err := s.TakeUsages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, u := range back {
		got[u.Grant] = u.UserAgent
	}
	if len(got) != 3 || got["g1"] != "newer" {
		t.Errorf("after return: %v", got)
	}
}
