package grants

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
)

// Families is the Redis side of grants: their token families.
type Families interface {
	// RevokeFamily deletes the grant's tokens and leaves a tombstone that
	// lives tombstoneTTL when the grant has no family yet.
	RevokeFamily(ctx context.Context, grant string, tombstoneTTL time.Duration) (redisstore.Ended, error)
	// FamiliesLive reports, for each grant, whether its family is live.
	FamiliesLive(ctx context.Context, grants []string) ([]bool, error)
}

// Records is the Postgres side of grants: their rows.
type Records interface {
	GetGrant(ctx context.Context, id string) (storage.Grant, error)
	ListGrants(ctx context.Context, subject string) ([]storage.Grant, error)
	CountGrants(ctx context.Context, subject string) (int, error)
	// RevokeGrant marks the row revoked unless it is already, and returns
	// the row as stored (storage.ErrNotFound when there is none).
	RevokeGrant(ctx context.Context, id, reason string, at time.Time) (storage.Grant, error)
	// TouchGrants applies usages (usage.go).
	TouchGrants(ctx context.Context, usages []storage.GrantUsage) error
}

// ClientRecords deletes clients (Postgres): DeleteClient deletes the client
// and its consents and marks its unrevoked grants revoked (reason admin),
// in one transaction.
type ClientRecords interface {
	LiveClientGrants(ctx context.Context, clientID string) ([]string, error)
	DeleteClient(ctx context.Context, id string) error
}

// ClientNames names clients for listings (optional).
type ClientNames interface {
	ClientName(ctx context.Context, id string) (string, error)
}

// Config configures New. Families and Records are required.
type Config struct {
	Families Families
	Records  Records
	Pending  Pending // usage.go; optional (no usage recorded or flushed)
	Sweeper  Sweeper // janitor.go; optional (no janitor)
	Clients  ClientNames
	// ClientRecords is for DeleteClient (optional).
	ClientRecords ClientRecords
	// DeviceLabel turns a User-Agent into the label listings show
	// (web.DeviceLabel); the raw User-Agent when nil.
	DeviceLabel func(userAgent string) string
	// TombstoneTTL bounds how long the revocation of a grant not born yet
	// is remembered (long enough to stop a racing code exchange; 10m by
	// default).
	TombstoneTTL time.Duration
	// Metrics, when set, receives authd_revocations_total.
	Metrics prometheus.Registerer
	// Logger receives what the usage flush drops (slog.Default when nil).
	Logger *slog.Logger
}

// Manager owns grants after their birth: see the package documentation.
type Manager struct {
	families     Families
	records      Records
	pending      Pending
	sweeper      Sweeper
	clients      ClientNames
	clientRecs   ClientRecords
	label        func(string) string
	tombstoneTTL time.Duration
	revocations  *prometheus.CounterVec
	now          func() time.Time
	log          *slog.Logger
}

// New returns the manager.
func New(c Config) *Manager {
	if c.TombstoneTTL <= 0 {
		c.TombstoneTTL = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DeviceLabel == nil {
		c.DeviceLabel = func(ua string) string { return ua }
	}
	m := &Manager{
		families: c.Families, records: c.Records, pending: c.Pending, sweeper: c.Sweeper, clients: c.Clients,
		clientRecs: c.ClientRecords,
		label:      c.DeviceLabel, tombstoneTTL: c.TombstoneTTL, now: time.Now, log: c.Logger,
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_revocations_total", Help: "Revocations by reason.",
		}, []string{"reason"}),
	}
	if c.Metrics != nil {
		c.Metrics.MustRegister(m.revocations)
	}
	return m
}

// Revoke ends the grant id for reason, as the protocol does (RFC 7009
// revocation, code replay, refresh token reuse): its family is revoked in
// Redis with a tombstone, so no racing request can write new tokens to it,
// and, when that ended a live user's grant, its row is marked. One Redis
// script and at most one Postgres statement; a client_credentials token, an
// unknown grant or one already ended costs no Postgres statement. Revoking
// twice is harmless: the first reason is kept.
func (m *Manager) Revoke(ctx context.Context, id, reason string) error {
	ended, err := m.families.RevokeFamily(ctx, id, m.tombstoneTTL)
	if err != nil {
		return fmt.Errorf("revoke grant %s: %w", id, err)
	}
	switch ended {
	case redisstore.EndedGrant:
		return m.mark(ctx, id, reason)
	case redisstore.EndedToken:
		m.revocations.WithLabelValues(reason).Inc()
	}
	return nil
}

// RecordRevoked marks the row of grant id, whose family a revocation
// already ended in Redis, for reason: a grant revoked while it was being
// born (its code replayed during the exchange), when the revocation found
// no family to end yet. One Postgres statement, no Redis.
func (m *Manager) RecordRevoked(ctx context.Context, id, reason string) error {
	return m.mark(ctx, id, reason)
}

// RevokeFor revokes the grant id of subject for reason; subject "" means
// any subject (the admin API, the CLI). It returns storage.ErrNotFound for a
// grant that does not exist or is someone else's. A revoked grant stays
// revoked with its first reason.
func (m *Manager) RevokeFor(ctx context.Context, subject, id, reason string) error {
	g, err := m.records.GetGrant(ctx, id)
	if err != nil {
		return err
	}
	if subject != "" && g.Subject != subject {
		return storage.ErrNotFound
	}
	return m.end(ctx, g, reason)
}

// RevokeAll revokes for reason every grant of subject that is not revoked,
// except those in keep, and returns the ids it revoked. Grants past their
// recorded expiry are included (their family may have slid past it). Grants
// born after the listing are not affected.
func (m *Manager) RevokeAll(ctx context.Context, subject, reason string, keep ...string) ([]string, error) {
	return m.revokeWhere(ctx, subject, reason, func(g storage.Grant) bool { return !slices.Contains(keep, g.ID) })
}

// RevokeClientFor revokes for reason every grant of subject to the client
// that is not revoked (an app the user removes) and returns the ids it
// revoked, as RevokeAll does.
func (m *Manager) RevokeClientFor(ctx context.Context, subject, clientID, reason string) ([]string, error) {
	return m.revokeWhere(ctx, subject, reason, func(g storage.Grant) bool { return g.ClientID == clientID })
}

// revokeWhere ends subject's unrevoked grants that match, one by one (a
// failure does not stop the others), and returns the ids it ended.
func (m *Manager) revokeWhere(ctx context.Context, subject, reason string, match func(storage.Grant) bool) ([]string, error) {
	rows, err := m.records.ListGrants(ctx, subject)
	if err != nil {
		return nil, err
	}
	var done []string
	var errs []error
	for _, g := range rows {
		if g.RevokedAt != nil || !match(g) {
			continue
		}
		if err := m.end(ctx, g, reason); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, g.ID)
	}
	return done, errors.Join(errs...)
}

// end revokes the grant whose row g was just read: the family once, then
// the row once. A row read unrevoked is marked whatever Redis answered: its
// family may be gone already (expired, not yet swept by the janitor) or
// being revoked by a concurrent call, and the row must say so either way.
func (m *Manager) end(ctx context.Context, g storage.Grant, reason string) error {
	ended, err := m.families.RevokeFamily(ctx, g.ID, m.tombstoneTTL)
	if err != nil {
		return fmt.Errorf("revoke grant %s: %w", g.ID, err)
	}
	if g.RevokedAt != nil && ended != redisstore.EndedGrant {
		return nil
	}
	return m.mark(ctx, g.ID, reason)
}

// mark marks the row of grant id revoked for reason (one UPDATE) and counts
// the revocation when this call is the one that revoked it. A missing row
// is not an error: the family was all there was.
func (m *Manager) mark(ctx context.Context, id, reason string) error {
	at := m.now().Truncate(time.Microsecond) // Postgres keeps microseconds
	g, err := m.records.RevokeGrant(ctx, id, reason, at)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record revocation of grant %s: %w", id, err)
	}
	if g.RevokedAt != nil && g.RevokedAt.Equal(at) && g.RevokeReason == reason {
		m.revocations.WithLabelValues(reason).Inc()
	}
	return nil
}

// DeleteClient deletes the client and ends its grants: their families are
// revoked in Redis first (one script each), then the client, its consents
// and its grants' rows go in one transaction that marks the rows revoked
// (reason admin). A grant born between the two steps has its row marked and
// its tokens stop working when every replica's client cache has forgotten
// the client. storage.ErrNotFound when there is no such client.
func (m *Manager) DeleteClient(ctx context.Context, clientID string) error {
	ids, err := m.clientRecs.LiveClientGrants(ctx, clientID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := m.families.RevokeFamily(ctx, id, m.tombstoneTTL); err != nil {
			return fmt.Errorf("revoke grant %s: %w", id, err)
		}
	}
	if err := m.clientRecs.DeleteClient(ctx, clientID); err != nil {
		return err
	}
	m.revocations.WithLabelValues(storage.RevokedByAdmin).Add(float64(len(ids)))
	return nil
}
