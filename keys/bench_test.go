package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a reusable ResponseWriter, so the benchmark measures
// ServeJWKS and not a recorder's buffers.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

func BenchmarkServeJWKS(b *testing.B) {
	m := newTestManager(b, &fakeStore{})
	mustEnsure(b, m, RS256, ES256)
	_, etag := m.JWKS()
	for _, bc := range []struct {
		name, inm string
		want      int
	}{
		{"200", "", http.StatusOK},
		{"304", etag, http.StatusNotModified},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
			if bc.inm != "" {
				req.Header.Set("If-None-Match", bc.inm)
			}
			w := &discardWriter{h: make(http.Header, 8)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				m.ServeJWKS(w, req)
			}
			if w.code != bc.want {
				b.Fatalf("status %d, want %d", w.code, bc.want)
			}
		})
	}
}

// signingInput stands in for a JWT's header.payload.
var signingInput = sha256.Sum256([]byte("eyJhbGciOiJSUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJodHRwczovL2F1dGhkIiwic3ViIjoiYWxpY2UifQ"))

func benchSign(b *testing.B, k crypto.Signer) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(rand.Reader, signingInput[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignRS256 also measures RSA 4096, the size rsaBits rejects for
// its cost.
func BenchmarkSignRS256(b *testing.B) {
	b.Run("bits=2048", func(b *testing.B) {
		k, err := Generate(RS256)
		if err != nil {
			b.Fatal(err)
		}
		benchSign(b, k)
	})
	b.Run("bits=4096", func(b *testing.B) {
		k, err := rsa.GenerateKey(rand.Reader, 4096)
		if err != nil {
			b.Fatal(err)
		}
		benchSign(b, k)
	})
}

func BenchmarkSignES256(b *testing.B) {
	k, err := Generate(ES256)
	if err != nil {
		b.Fatal(err)
	}
	benchSign(b, k)
}
