package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/storagetest"
)

func TestAdvisoryLockRunsOneHolderAtATime(t *testing.T) {
	ctx := context.Background()
	schema := storagetest.Schema(t)
	open := func() *postgres.DB {
		db, err := postgres.Open(ctx, storagetest.PostgresURL(), postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	a, b := open(), open() // two replicas
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	// While a holds the lock, b cannot take it; other keys are independent.
	inside := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ran, err := a.WithAdvisoryLock(ctx, 42, func() error {
			close(inside)
			<-release
			return nil
		})
		if !ran || err != nil {
			t.Errorf("holder: ran %v, err %v", ran, err)
		}
	}()
	<-inside
	ran, err := b.WithAdvisoryLock(ctx, 42, func() error { t.Error("ran while another replica held the lock"); return nil })
	if ran || err != nil {
		t.Errorf("contender: ran %v, err %v; want false, nil", ran, err)
	}
	if ran, err := b.WithAdvisoryLock(ctx, 43, func() error { return nil }); !ran || err != nil {
		t.Errorf("another key: ran %v, err %v", ran, err)
	}
	close(release)
	wg.Wait()

	// Released: b gets it now, and fn's error comes back.
	boom := errors.New("boom")
	if ran, err := b.WithAdvisoryLock(ctx, 42, func() error { return boom }); !ran || !errors.Is(err, boom) {
		t.Errorf("after release: ran %v, err %v", ran, err)
	}
	// An error in fn released it too.
	if ran, _ := a.WithAdvisoryLock(ctx, 42, func() error { return nil }); !ran {
		t.Error("lock still held after fn failed")
	}
}

func TestAdvisoryLockIsPerSchema(t *testing.T) {
	ctx := context.Background()
	a, b := storagetest.Postgres(t), storagetest.Postgres(t) // two schemas
	var n atomic.Int32
	_, _ = a.WithAdvisoryLock(ctx, 7, func() error {
		ran, err := b.WithAdvisoryLock(ctx, 7, func() error { n.Add(1); return nil })
		if !ran || err != nil {
			t.Errorf("other schema: ran %v, err %v", ran, err)
		}
		return nil
	})
	if n.Load() != 1 {
		t.Error("the same key on another schema was blocked")
	}
}

func TestAdvisoryLockHonoursContext(t *testing.T) {
	db := storagetest.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if ran, err := db.WithAdvisoryLock(ctx, 1, func() error { return nil }); ran || err == nil {
		t.Errorf("expired context: ran %v, err %v", ran, err)
	}
}
