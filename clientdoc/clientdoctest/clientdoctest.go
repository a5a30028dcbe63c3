package clientdoctest

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is a TLS server on loopback answering per path and counting the
// requests each path received.
type Server struct {
	*httptest.Server
	mu    sync.Mutex
	paths map[string]http.HandlerFunc
	hits  map[string]*atomic.Int64
}

// NewServer starts a Server, closed when the test ends. Unknown paths are
// 404.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{paths: map[string]http.HandlerFunc{}, hits: map[string]*atomic.Int64{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		h, n := s.paths[r.URL.Path], s.hits[r.URL.Path]
		s.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// Handle serves h at path (counting from 0 again) and returns its URL.
func (s *Server) Handle(path string, h http.HandlerFunc) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths[path], s.hits[path] = h, &atomic.Int64{}
	return s.URL + path
}

// Count is how many requests path received.
func (s *Server) Count(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.hits[path]; n != nil {
		return n.Load()
	}
	return 0
}

// Roots are the roots the server's certificate chains to.
func (s *Server) Roots() *x509.CertPool {
	return s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
}

// Document answers a JSON document with Cache-Control cc; format's one
// verb (%q) gets the client_id the request's URL makes.
func Document(cc, format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		fmt.Fprintf(w, format, "https://"+r.Host+r.URL.Path)
	}
}
