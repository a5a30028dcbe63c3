package web

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authd/authd/storage"
)

// fakeUsers is an in-memory user lookup (pure logic: the test is about the
// bound on concurrent password checks, not about storage).
type fakeUsers map[string]*storage.User

func (f fakeUsers) GetUserByUsername(_ context.Context, name string) (*storage.User, error) {
	if u, ok := f[name]; ok {
		return u, nil
	}
	return nil, storage.ErrNotFound
}

func TestPasswordChecksAreBounded(t *testing.T) {
	h, err := storage.HashPassword("pw-12345678")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Users: fakeUsers{"bob": {ID: "1", Username: "bob", PasswordHash: h}}, Secret: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.authenticate(context.Background(), "bob", "pw-12345678"); err != nil {
		t.Fatalf("free slots: %v", err)
	}
	// Every slot busy: a sign-in waits, then gives up with errBusy instead
	// of starting another 19 MiB hash.
	for i := 0; i < cap(p.hashSlots); i++ {
		p.hashSlots <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := p.authenticate(ctx, "bob", "pw-12345678"); !errors.Is(err, errBusy) {
		t.Fatalf("saturated: err = %v, want errBusy", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("gave up after %v", d)
	}
	<-p.hashSlots // one slot frees up: the next sign-in goes through
	if _, err := p.authenticate(context.Background(), "bob", "pw-12345678"); err != nil {
		t.Fatalf("after a slot freed: %v", err)
	}
}
