package keys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authd/authd/storage"
)

// RotationPolicy is scheduled key rotation for one algorithm.
type RotationPolicy struct {
	Alg string
	// Period: a new key is added when the newest key of Alg is this old.
	Period time.Duration
	// Lead: the new key is published at once but signs only from Lead on.
	// It must cover how long relying parties cache the JWKS (max-age 300s)
	// plus the Refresh interval of every replica, so that no token is signed
	// with a key its verifier cannot have seen yet.
	Lead time.Duration
	// RetireAfter: a key is retired (no longer published) once its successor
	// has been signing for this long. It must cover the longest lifetime of
	// a token the key signed (the ID token TTL) plus clock skew.
	RetireAfter time.Duration
}

func (p RotationPolicy) validate() error {
	switch {
	case !Supported(p.Alg):
		return fmt.Errorf("%w: %q", ErrUnsupportedAlg, p.Alg)
	case p.Period <= 0 || p.Lead < 0 || p.RetireAfter <= 0:
		return errors.New("keys: rotation period and retirement delay must be positive, lead not negative")
	case p.Lead >= p.Period:
		return fmt.Errorf("keys: rotation lead %s must be shorter than the period %s", p.Lead, p.Period)
	}
	return nil
}

// RotationResult reports what AutoRotate did.
type RotationResult struct {
	// Rotated is the key added (no private material), or nil.
	Rotated *storage.SigningKey
	// Retired lists the kids retired.
	Retired []string
}

// AutoRotate applies p once against the store (not the snapshot, so it sees
// what other replicas did): it adds a key with p.Lead when the newest
// published key of p.Alg is at least p.Period old (or there is none), and
// retires every key of p.Alg whose successor became active at least
// p.RetireAfter ago. The key that signs now is never retired, nor is a key
// whose successor is still pending. Run it in one replica at a time (see
// postgres.DB.WithAdvisoryLock): two replicas running it together may both
// add a key, which is harmless but wasteful. It reloads the snapshot when it
// changed anything.
func (m *Manager) AutoRotate(ctx context.Context, p RotationPolicy) (RotationResult, error) {
	var res RotationResult
	if err := p.validate(); err != nil {
		return res, err
	}
	recs, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return res, fmt.Errorf("keys: list signing keys: %w", err)
	}
	now := m.now()
	for _, kid := range retirable(recs, p.Alg, now, p.RetireAfter) {
		if err := m.store.RetireSigningKey(ctx, kid, m.timestamp()); err != nil {
			return res, fmt.Errorf("keys: retire signing key %q: %w", kid, err)
		}
		res.Retired = append(res.Retired, kid)
	}
	if rotationDue(recs, p.Alg, now, p.Period) {
		rec, err := m.Rotate(ctx, p.Alg, p.Lead) // reloads
		if err != nil {
			return res, err
		}
		res.Rotated = &rec
		return res, nil
	}
	if len(res.Retired) > 0 {
		return res, m.Load(ctx)
	}
	return res, nil
}

// rotationDue: no published key of alg, or the newest one (by CreatedAt,
// pending ones included) is at least period old.
func rotationDue(recs []storage.SigningKey, alg string, now time.Time, period time.Duration) bool {
	var newest *storage.SigningKey
	for i := range recs {
		r := &recs[i]
		if r.Alg != alg || r.RetiredAt != nil {
			continue
		}
		if newest == nil || r.CreatedAt.After(newest.CreatedAt) {
			newest = r
		}
	}
	return newest == nil || !now.Before(newest.CreatedAt.Add(period))
}

// retirable lists the published keys of alg that stopped signing at least
// after ago: some later key of alg became active at or before now-after.
// (The current signer has no such successor, so it is never listed.)
func retirable(recs []storage.SigningKey, alg string, now time.Time, after time.Duration) []string {
	var out []string
	for i := range recs {
		k := &recs[i]
		if k.Alg != alg || k.RetiredAt != nil {
			continue
		}
		for j := range recs {
			s := &recs[j]
			if j == i || s.Alg != alg || s.RetiredAt != nil {
				continue
			}
			// s supersedes k once active; k's last signature is at the
			// earliest successor's ActiveAt, which is no later than s's.
			if s.ActiveAt.After(k.ActiveAt) && !now.Before(s.ActiveAt.Add(after)) {
				out = append(out, k.ID)
				break
			}
		}
	}
	return out
}

// JWKSMaxAge is how long relying parties may cache the JWKS (its
// Cache-Control max-age); a rotation lead must be at least this plus the
// replicas' Refresh interval.
const JWKSMaxAge = jwksMaxAge
