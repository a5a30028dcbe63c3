package keys

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authd/authd/storage"
)

// jwksMaxAge is how long relying parties may cache the JWKS.
const jwksMaxAge = 300 * time.Second

// key is one opened, published signing key. Immutable once built.
type key struct {
	id, alg   string
	signer    crypto.Signer   // raw *rsa.PrivateKey or *ecdsa.PrivateKey
	jwk       jose.JSONWebKey // public half, with kid, alg, use
	createdAt time.Time
	activeAt  time.Time
	// The stored bytes this key was opened from, so a reload can reuse it
	// instead of decrypting and re-validating the same record.
	sealed, pubPEM []byte
}

func (k *key) sameRecord(r *storage.SigningKey) bool {
	return k.alg == r.Alg && k.createdAt.Equal(r.CreatedAt) && k.activeAt.Equal(r.ActiveAt) &&
		bytes.Equal(k.sealed, r.PrivateKeyEncrypted) && bytes.Equal(k.pubPEM, r.PublicKeyPEM)
}

// snapshot is an immutable view of the published keys; a Manager swaps whole
// snapshots atomically, so readers need no lock.
type snapshot struct {
	byKID map[string]*key
	// byAlg lists each algorithm's keys in signing precedence (signsBefore):
	// Signer takes the first whose ActiveAt has passed.
	byAlg map[string][]*key
	set   jose.JSONWebKeySet

	body []byte
	etag string
	// Header values computed once and assigned, not Set, per request. They
	// are shared by all responses and must not be modified.
	hdrType, hdrCache, hdrETag, hdrLen []string

	loaded bool // false until the first successful Load
}

var (
	hdrJSON     = []string{"application/json"}
	hdrMaxAge   = []string{"public, max-age=" + strconv.Itoa(int(jwksMaxAge/time.Second))}
	hdrAllow    = []string{"GET, HEAD"}
	hdrNoStore  = []string{"no-store"}
	hdrRetryOne = []string{"1"}
)

// buildSnapshot indexes ks (published keys) and encodes the JWKS once.
func buildSnapshot(ks []*key, loaded bool) (*snapshot, error) {
	// Publish in a stable order, so every replica serves the same bytes and
	// therefore the same ETag.
	ks = slices.Clone(ks)
	slices.SortStableFunc(ks, func(a, b *key) int {
		if c := a.createdAt.Compare(b.createdAt); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	s := &snapshot{
		byKID:  make(map[string]*key, len(ks)),
		byAlg:  make(map[string][]*key),
		set:    jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(ks))},
		loaded: loaded,
	}
	for _, k := range ks {
		if _, dup := s.byKID[k.id]; dup {
			return nil, fmt.Errorf("keys: duplicate kid %q", k.id)
		}
		s.byKID[k.id] = k
		s.byAlg[k.alg] = append(s.byAlg[k.alg], k)
		s.set.Keys = append(s.set.Keys, k.jwk)
	}
	for _, list := range s.byAlg {
		slices.SortFunc(list, func(a, b *key) int {
			switch {
			case signsBefore(a.activeAt, a.createdAt, a.id, b.activeAt, b.createdAt, b.id):
				return -1
			case signsBefore(b.activeAt, b.createdAt, b.id, a.activeAt, a.createdAt, a.id):
				return 1
			}
			return 0
		})
	}
	body, err := json.Marshal(s.set)
	if err != nil {
		return nil, fmt.Errorf("keys: encode JWKS: %w", err)
	}
	sum := sha256.Sum256(body)
	s.body = body
	s.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
	s.hdrType = hdrJSON
	s.hdrCache = hdrMaxAge
	s.hdrETag = []string{s.etag}
	s.hdrLen = []string{strconv.Itoa(len(body))}
	return s, nil
}

// ServeJWKS serves the cached JWKS document (an http.HandlerFunc). It sets
// Content-Type, Cache-Control (public, max-age=300) and a strong ETag, and
// answers a matching If-None-Match with 304. Per request it only reads the
// current snapshot: no encoding, hashing or store access. Before the first
// successful Load it answers 503 rather than an empty set that relying
// parties would cache.
func (m *Manager) ServeJWKS(w http.ResponseWriter, r *http.Request) {
	s := m.snap.Load()
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h["Allow"] = hdrAllow
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.loaded {
		h["Cache-Control"] = hdrNoStore
		h["Retry-After"] = hdrRetryOne
		http.Error(w, "signing keys not loaded", http.StatusServiceUnavailable)
		return
	}
	// Canonical header keys ("Etag", not "ETag") because the map is written
	// directly; this avoids allocating a []string per header per request.
	h["Cache-Control"] = s.hdrCache
	h["Etag"] = s.hdrETag
	if etagMatches(r.Header.Get("If-None-Match"), s.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = s.hdrType
	h["Content-Length"] = s.hdrLen
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(s.body)
	}
}

// etagMatches reports whether an If-None-Match header value matches etag,
// using the weak comparison RFC 9110 §13.1.2 prescribes (a W/ prefix is
// ignored). "*" matches. A malformed list matches nothing.
func etagMatches(header, etag string) bool {
	for {
		header = strings.TrimLeft(header, " \t,")
		if header == "" {
			return false
		}
		if header[0] == '*' {
			return true
		}
		header = strings.TrimPrefix(header, "W/")
		if header == "" || header[0] != '"' {
			return false
		}
		end := strings.IndexByte(header[1:], '"')
		if end < 0 {
			return false
		}
		if header[:end+2] == etag {
			return true
		}
		header = header[end+2:]
	}
}
