package keys

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authd/authd/storage"
)

// Store persists signing keys. storage/postgres implements it.
type Store interface {
	// InsertSigningKey stores a new key. Returns storage.ErrConflict if a key
	// with the same ID exists.
	InsertSigningKey(ctx context.Context, k *storage.SigningKey) error
	// ListSigningKeys returns all keys, oldest (CreatedAt) first, retired
	// ones included. No keys is an empty slice and a nil error.
	ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error)
	// RetireSigningKey sets RetiredAt on the key. Returns storage.ErrNotFound
	// if no key has that ID.
	RetireSigningKey(ctx context.Context, id string, at time.Time) error
}

// ErrNoKey is returned by Signer when no key of the algorithm is active.
var ErrNoKey = errors.New("keys: no active signing key")

// Option configures a Manager.
type Option func(*Manager)

// WithClock sets the time source (default time.Now). Tests use it to move
// past a key's ActiveAt.
func WithClock(now func() time.Time) Option {
	return func(m *Manager) { m.now = now }
}

// WithLogger sets where Refresh reports failed reloads and Load reports keys
// it skips (default slog.Default()). Key material is never logged.
func WithLogger(l *slog.Logger) Option {
	return func(m *Manager) { m.log = l }
}

// Manager owns the signing keys of one authd process. Build it with New and
// call Load or EnsureKey before serving; its methods are safe for concurrent
// use.
type Manager struct {
	store  Store
	sealer *sealer
	now    func() time.Time
	log    *slog.Logger

	// loadMu serialises reloads so an older listing never replaces a newer
	// snapshot; readers never take it.
	loadMu sync.Mutex
	snap   atomic.Pointer[snapshot]
}

// New returns a Manager persisting keys in store and sealing private keys
// under a key derived from secret (the system secret, at least MinSecretLen
// bytes). It does not touch the store: call Load or EnsureKey next. Until
// then Signer returns ErrNoKey and ServeJWKS answers 503.
func New(store Store, secret []byte, opts ...Option) (*Manager, error) {
	if store == nil {
		return nil, errors.New("keys: nil store")
	}
	s, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	m := &Manager{store: store, sealer: s, now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(m)
	}
	empty, err := buildSnapshot(nil, false)
	if err != nil {
		return nil, err
	}
	m.snap.Store(empty)
	return m, nil
}

// timestamp is the time stored on new records: UTC, without a monotonic
// reading, at the microsecond precision Postgres keeps, so a record reads
// back equal to what was written.
func (m *Manager) timestamp() time.Time {
	return m.now().UTC().Truncate(time.Microsecond)
}

// Load reads every key from the store, opens the private keys of the
// published (non-retired) ones and atomically replaces the in-memory
// snapshot, including the encoded JWKS. On error the previous snapshot stays
// in place. Keys with an algorithm this version does not know are skipped
// with a warning, so a rolling upgrade that adds one does not break older
// replicas.
func (m *Manager) Load(ctx context.Context) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	recs, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list signing keys: %w", err)
	}
	return m.install(recs)
}

// install builds a snapshot from recs and publishes it. Callers hold loadMu.
func (m *Manager) install(recs []storage.SigningKey) error {
	old := m.snap.Load()
	ks := make([]*key, 0, len(recs))
	for i := range recs {
		r := &recs[i]
		if r.RetiredAt != nil {
			continue
		}
		if !Supported(r.Alg) {
			m.log.Warn("keys: skipping signing key with unsupported alg", "kid", r.ID, "alg", r.Alg)
			continue
		}
		if k := old.byKID[r.ID]; k != nil && k.sameRecord(r) {
			ks = append(ks, k) // already opened and checked; keys are immutable
			continue
		}
		k, err := m.open(r)
		if err != nil {
			return err
		}
		ks = append(ks, k)
	}
	s, err := buildSnapshot(ks, true)
	if err != nil {
		return err
	}
	m.snap.Store(s)
	return nil
}

// open decrypts and checks one record. Errors name the kid, never the bytes.
func (m *Manager) open(r *storage.SigningKey) (*key, error) {
	der, err := m.sealer.open(r.ID, r.PrivateKeyEncrypted)
	if err != nil {
		return nil, fmt.Errorf("keys: key %q: %w", r.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		// Deliberately not wrapped: parser errors are about the secret bytes.
		return nil, fmt.Errorf("keys: key %q: private key is not valid PKCS#8", r.ID)
	}
	signer, err := checkKey(r.Alg, priv)
	if err != nil {
		return nil, fmt.Errorf("keys: key %q: %w", r.ID, err)
	}
	// PublicKeyPEM is not covered by the AEAD: check that it is the public
	// half of the sealed key, so a tampered row cannot publish another key.
	pub, err := parsePublicKeyPEM(r.PublicKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("keys: key %q: %w", r.ID, err)
	}
	if eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return nil, fmt.Errorf("keys: key %q: public key does not match the private key", r.ID)
	}
	return &key{
		id:        r.ID,
		alg:       r.Alg,
		signer:    signer,
		jwk:       jose.JSONWebKey{Key: signer.Public(), KeyID: r.ID, Algorithm: r.Alg, Use: "sig"},
		createdAt: r.CreatedAt,
		activeAt:  r.ActiveAt,
		sealed:    r.PrivateKeyEncrypted,
		pubPEM:    r.PublicKeyPEM,
	}, nil
}

// newRecord generates a key for alg and returns its sealed record.
func (m *Manager) newRecord(alg string, lead time.Duration) (storage.SigningKey, error) {
	signer, err := Generate(alg)
	if err != nil {
		return storage.SigningKey{}, err
	}
	kid, err := newKID()
	if err != nil {
		return storage.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return storage.SigningKey{}, errors.New("keys: cannot encode private key as PKCS#8")
	}
	sealed, err := m.sealer.seal(kid, der)
	clear(der)
	if err != nil {
		return storage.SigningKey{}, err
	}
	pubPEM, err := publicKeyPEM(signer.Public())
	if err != nil {
		return storage.SigningKey{}, err
	}
	now := m.timestamp()
	return storage.SigningKey{
		ID:                  kid,
		Alg:                 alg,
		PrivateKeyEncrypted: sealed,
		PublicKeyPEM:        pubPEM,
		CreatedAt:           now,
		ActiveAt:            now.Add(lead),
	}, nil
}

// EnsureKey makes sure Signer(alg) can succeed: if the store holds no
// non-retired key of alg that is already active, it generates one (active
// immediately) and inserts it. It then reloads the snapshot. Calling it again
// is a no-op apart from the reload. If two processes race, the worst case is
// two new keys, both published and both valid.
func (m *Manager) EnsureKey(ctx context.Context, alg string) error {
	if !Supported(alg) {
		return fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	recs, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list signing keys: %w", err)
	}
	if currentIndex(recs, alg, m.now()) < 0 {
		rec, err := m.newRecord(alg, 0)
		if err != nil {
			return err
		}
		if err := m.store.InsertSigningKey(ctx, &rec); err != nil {
			return fmt.Errorf("keys: insert signing key %q: %w", rec.ID, err)
		}
		if recs, err = m.store.ListSigningKeys(ctx); err != nil {
			return fmt.Errorf("keys: list signing keys: %w", err)
		}
	}
	return m.install(recs)
}

// Rotate adds a new key of alg that is published at once and signs from
// now+lead on (lead 0: immediately). Older keys stay published; retire them
// once the tokens they signed have expired. The returned record carries no
// private material (PrivateKeyEncrypted is nil). If the reload after the
// insert fails, the key is stored and the record is returned with the error.
//
// Pick lead at least as long as relying parties cache the JWKS (max-age 300s)
// plus the Refresh interval of the other replicas.
func (m *Manager) Rotate(ctx context.Context, alg string, lead time.Duration) (storage.SigningKey, error) {
	if lead < 0 {
		return storage.SigningKey{}, fmt.Errorf("keys: negative rotation lead %s", lead)
	}
	rec, err := m.newRecord(alg, lead)
	if err != nil {
		return storage.SigningKey{}, err
	}
	if err := m.store.InsertSigningKey(ctx, &rec); err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: insert signing key %q: %w", rec.ID, err)
	}
	rec.PrivateKeyEncrypted = nil
	if err := m.Load(ctx); err != nil {
		return rec, fmt.Errorf("keys: key %q stored, reload failed: %w", rec.ID, err)
	}
	return rec, nil
}

// KeyInfo describes a key for operators (authd keys list). It carries no
// private data.
type KeyInfo struct {
	ID        string     `json:"kid"`
	Alg       string     `json:"alg"`
	CreatedAt time.Time  `json:"created_at"`
	ActiveAt  time.Time  `json:"active_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// Current: the key signs new tokens of its algorithm right now.
	Current bool `json:"current"`
}

// List returns every key in the store, oldest first, retired ones included.
// It reads the store, not the snapshot, so it shows what other replicas
// will load.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	recs, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list signing keys: %w", err)
	}
	now := m.now()
	current := map[string]bool{}
	for _, alg := range []string{RS256, ES256} {
		if i := currentIndex(recs, alg, now); i >= 0 {
			current[recs[i].ID] = true
		}
	}
	out := make([]KeyInfo, len(recs))
	for i, r := range recs {
		out[i] = KeyInfo{
			ID:        r.ID,
			Alg:       r.Alg,
			CreatedAt: r.CreatedAt,
			ActiveAt:  r.ActiveAt,
			RetiredAt: r.RetiredAt,
			Current:   current[r.ID],
		}
	}
	return out, nil
}

// Refresh reloads the keys every interval until ctx is done, so a rotation
// or retirement made by another replica (or the CLI) is picked up. A failed
// reload is logged and the previous snapshot kept. It returns ctx.Err().
func (m *Manager) Refresh(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("keys: refresh interval must be positive, got %s", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := m.Load(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("keys: refresh failed, keeping previous keys", "err", err)
			}
		}
	}
}

// Signer returns the key that signs new tokens of alg: among the published
// keys of alg whose ActiveAt has passed, the one that became active most
// recently (each key takes over at its ActiveAt). The key is a raw
// *rsa.PrivateKey (RS256) or *ecdsa.PrivateKey (ES256), as fosite needs; set
// the JWS "kid" header to kid. Returns an error wrapping ErrNoKey if there is
// none. It does not touch the store.
func (m *Manager) Signer(alg string) (kid string, key crypto.Signer, err error) {
	now := m.now()
	for _, k := range m.snap.Load().byAlg[alg] {
		if !k.activeAt.After(now) {
			return k.id, k.signer, nil
		}
	}
	return "", nil, fmt.Errorf("%w for %s", ErrNoKey, alg)
}

// PublicKey returns the published key kid as a go-jose v4 JWK (public only,
// with alg), for verifying a JWS with that kid. ok is false for an unknown
// or retired kid.
func (m *Manager) PublicKey(kid string) (jwk jose.JSONWebKey, ok bool) {
	k := m.snap.Load().byKID[kid]
	if k == nil {
		return jose.JSONWebKey{}, false
	}
	return k.jwk, true
}

// JWKS returns the encoded JWKS document and its strong ETag (quoted). The
// body is shared: do not modify it.
func (m *Manager) JWKS() (body []byte, etag string) {
	s := m.snap.Load()
	return s.body, s.etag
}

// currentIndex returns the index in recs of the record Signer would pick for
// alg at now, or -1. It is the record-level twin of snapshot.byAlg ordering.
func currentIndex(recs []storage.SigningKey, alg string, now time.Time) int {
	best := -1
	for i := range recs {
		r := &recs[i]
		if r.Alg != alg || r.RetiredAt != nil || r.ActiveAt.After(now) {
			continue
		}
		if best < 0 || signsBefore(r.ActiveAt, r.CreatedAt, r.ID, recs[best].ActiveAt, recs[best].CreatedAt, recs[best].ID) {
			best = i
		}
	}
	return best
}

// signsBefore orders candidate signers: the later ActiveAt wins, then the
// later CreatedAt, then the greater kid, so every replica picks the same key.
func signsBefore(aActive, aCreated time.Time, aID string, bActive, bCreated time.Time, bID string) bool {
	if !aActive.Equal(bActive) {
		return aActive.After(bActive)
	}
	if !aCreated.Equal(bCreated) {
		return aCreated.After(bCreated)
	}
	return aID > bID
}
