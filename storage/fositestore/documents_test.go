package fositestore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

// fakeLoader and fakeDocuments count what the cache asks them.
type fakeLoader struct{ asked []string }

func (f *fakeLoader) GetClient(_ context.Context, id string) (*storage.Client, error) {
	f.asked = append(f.asked, id)
	return nil, storage.ErrNotFound
}

// fakeDocuments answers the same record for an id until it is dropped.
type fakeDocuments struct {
	asked []string
	recs  map[string]*storage.Client
}

func (f *fakeDocuments) Client(_ context.Context, id string) (*storage.Client, error) {
	f.asked = append(f.asked, id)
	if id == "https://app.example.com:8443/gone" {
		return nil, storage.ErrNotFound
	}
	if f.recs[id] == nil {
		f.recs[id] = &storage.Client{ID: id, Name: "Example App", Public: true}
	}
	return f.recs[id], nil
}

// TestClientCacheDocuments: with documents on, an https id is resolved by
// them (never the database) every time (they cache it themselves), the
// client names its host, and a missing one is not asked twice in one
// token request; without documents the same id is an ordinary unknown id.
func TestClientCacheDocuments(t *testing.T) {
	ctx := context.Background()
	db, docs := &fakeLoader{}, &fakeDocuments{recs: map[string]*storage.Client{}}
	c := fositestore.NewClientCache(db, 10, time.Minute)
	id := "https://app.example.com:8443/client.json"
	if _, err := c.Get(ctx, id); !errors.Is(err, storage.ErrNotFound) || len(db.asked) != 1 {
		t.Fatalf("documents off: %v, database asked %v", err, db.asked)
	}
	c = fositestore.NewClientCache(db, 10, time.Minute)
	c.UseDocuments(docs)
	var first *fositestore.Client
	for range 2 {
		cl, err := c.Get(ctx, id)
		if err != nil || cl.DocumentHost != "app.example.com:8443" || cl.DisplayName() != "Example App (app.example.com:8443)" || !cl.IsPublic() {
			t.Fatalf("document client %+v: %v", cl, err)
		}
		if first != nil && cl != first {
			t.Error("the same record was wrapped again")
		}
		first = cl
	}
	docs.recs[id] = &storage.Client{ID: id, Name: "Renamed", Public: true} // fetched again
	if cl, _ := c.Get(ctx, id); cl == first || cl.Name != "Renamed" {
		t.Errorf("a new record of the document was not used: %+v", cl)
	}
	if name, _ := c.ClientName(ctx, id); name != "Renamed (app.example.com:8443)" {
		t.Errorf("ClientName %q", name)
	}
	if _, err := c.Reload(ctx, id); err != nil {
		t.Errorf("Reload: %v", err)
	}
	if len(db.asked) != 1 || len(docs.asked) != 5 {
		t.Errorf("database asked %v, documents %v", db.asked, docs.asked)
	}
	tr := fositestore.WithTokenRequest(ctx)
	for range 2 {
		if _, err := c.Get(tr, "https://app.example.com:8443/gone"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("gone: %v", err)
		}
	}
	if len(docs.asked) != 6 {
		t.Errorf("a missing document client was asked for twice in one token request: %v", docs.asked)
	}
	if _, err := c.Get(ctx, "webapp"); !errors.Is(err, storage.ErrNotFound) || len(db.asked) != 2 {
		t.Errorf("an ordinary id: %v, database asked %v", err, db.asked)
	}
}
