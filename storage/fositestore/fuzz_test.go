package fositestore

import (
	"context"
	"testing"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

// FuzzDecodeStoredRequest: a corrupt value in Redis yields an error, never
// a panic.
func FuzzDecodeStoredRequest(f *testing.F) {
	for _, seed := range []string{
		`{"v":1,"i":"g","t":1,"c":"app","x":{"s":"u","e":{"a":1}}}`,
		`{"v":2}`, `{`, ``, `null`, `{"v":1,"x":"not an object"}`, `{"v":1,"f":{"a":"b"}}`,
	} {
		f.Add([]byte(seed))
	}
	st := New(Config{NewSession: func() fosite.Session { return &fosite.DefaultSession{} }, Clients: NewClientCache(missingClients{}, 10, 0)})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := st.decode(context.Background(), b, nil)
		if err == nil && r == nil {
			t.Fatal("nil request without error")
		}
	})
}

// missingClients is a loader that knows no client (pure logic: decoding is
// what is under test, not client lookup).
type missingClients struct{}

func (missingClients) GetClient(context.Context, string) (*storage.Client, error) {
	return nil, storage.ErrNotFound
}
