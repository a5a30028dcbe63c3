package main

import (
	"context"
	"sync"
	"time"

	"github.com/authd/authd/keys"
)

// Scheduled signing-key rotation (AUTHD_KEY_ROTATION). Every replica checks
// every minute; the check runs under a Postgres advisory lock, so only one
// replica rotates, and it reads the store, so it sees rotations made by the
// others (or by `authd keys rotate`). A new key is published at once and
// signs only after a lead that covers the JWKS cache of relying parties and
// the key reload of the other replicas; the old key stays published until
// every ID token it signed has expired.

// keyRotationLock is the advisory lock key of the rotation check.
const keyRotationLock int64 = 0x6b6579726f74 // "keyrot"

// idTokenTTL is how long ID tokens live (oauth.Config's default; serve does
// not change it).
const idTokenTTL = time.Hour

// keyTiming holds the intervals of key reload and rotation. The zero value
// means the production defaults; tests shorten them.
type keyTiming struct {
	refresh     time.Duration // reload the keys from Postgres (every replica)
	check       time.Duration // check whether a rotation or retirement is due
	lead        time.Duration // a new key signs this long after it is published
	retireAfter time.Duration // a superseded key is unpublished this long after its successor took over
}

func (c Config) keyTiming() keyTiming {
	t := c.keyTimes
	if t.refresh <= 0 {
		t.refresh = 30 * time.Second
	}
	if t.check <= 0 {
		t.check = time.Minute
	}
	if t.lead <= 0 {
		// JWKS max-age + one reload interval of the other replicas + 30s of
		// clock skew: 6 minutes by default.
		t.lead = keys.JWKSMaxAge + t.refresh + 30*time.Second
	}
	if t.retireAfter <= 0 {
		// The longest-lived signed token: an ID token, or an access token
		// issued as a JWT, plus 5 minutes of clock skew.
		t.retireAfter = max(idTokenTTL, c.AccessTokenTTL) + 5*time.Minute
	}
	return t
}

// keyRotationInvalid reports a rotation period too short for its lead.
func (c Config) keyRotationInvalid() bool {
	return c.KeyRotation < 0 || (c.KeyRotation > 0 && c.KeyRotation < 2*c.keyTiming().lead)
}

// runKeys keeps the signing keys fresh until ctx is done: it reloads them
// periodically and, when AUTHD_KEY_ROTATION is set, rotates and retires them.
func (a *App) runKeys(ctx context.Context) {
	kt := a.Config.keyTiming()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = a.Keys.Refresh(ctx, kt.refresh)
	}()
	defer wg.Wait()
	if a.Config.KeyRotation <= 0 {
		return
	}
	t := time.NewTicker(kt.check)
	defer t.Stop()
	for {
		// Every algorithm in use rotates; none is introduced.
		for _, alg := range []string{keys.RS256, keys.ES256} {
			if _, _, err := a.Keys.Signer(alg); err == nil {
				a.rotateKeys(ctx, keys.RotationPolicy{Alg: alg, Period: a.Config.KeyRotation, Lead: kt.lead, RetireAfter: kt.retireAfter})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rotateKeys runs one rotation check if no other replica is running one.
func (a *App) rotateKeys(ctx context.Context, p keys.RotationPolicy) {
	ran, err := a.DB.WithAdvisoryLock(ctx, keyRotationLock, func() error {
		res, err := a.Keys.AutoRotate(ctx, p)
		if res.Rotated != nil {
			if a.stores != nil {
				a.stores.keyRotations.Inc()
			}
			a.Log.Info("signing key rotated", "kid", res.Rotated.ID, "alg", res.Rotated.Alg,
				"active_at", res.Rotated.ActiveAt, "lead", p.Lead.String())
		}
		for _, kid := range res.Retired {
			a.Log.Info("signing key retired", "kid", kid)
		}
		if a.stores != nil {
			a.stores.keyRetirements.Add(float64(len(res.Retired)))
		}
		return err
	})
	if err != nil && ctx.Err() == nil {
		if a.stores != nil {
			a.stores.keyRotationErrs.Inc()
		}
		a.Log.Error("key rotation check failed", "err", err)
	} else if !ran {
		a.Log.Debug("key rotation check skipped: another replica holds the lock")
	}
}
