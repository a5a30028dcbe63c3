package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/web"
)

// GrantRecords is what grant management reads and marks in Postgres.
type GrantRecords interface {
	GetGrant(ctx context.Context, id string) (storage.Grant, error)
	ListGrants(ctx context.Context, subject string, activeOnly bool) ([]storage.Grant, error)
	CountGrants(ctx context.Context, subject string, activeOnly bool) (int, error)
	RevokeGrant(ctx context.Context, id, reason string, at time.Time) (storage.Grant, error)
}

// Families reports which grants' token families are live in Redis.
type Families interface {
	FamiliesLive(ctx context.Context, grants []string) ([]bool, error)
}

// GrantRevoker revokes every token of a grant (Redis) and marks its record
// (Postgres); fositestore.Store is the implementation. Revoking twice is
// harmless.
type GrantRevoker interface {
	RevokeGrant(ctx context.Context, grant, reason string) error
}

// Grants lists and revokes a subject's grants (the "devices" signed in to
// an account) for the admin API, the user API, the devices page and the
// CLI, so they all agree on what is active.
//
// A grant is active when its record is not revoked AND its token family is
// live in Redis: Redis is where tokens work or not, so a count of active
// grants is the number of refresh tokens that would still be accepted. The
// record's expires_at is not trusted for this: refresh tokens slide, so a
// family may outlive the expiry recorded at its birth until the next usage
// flush moves it.
type Grants struct {
	records  GrantRecords
	families Families
	revoker  GrantRevoker
	clients  Clients
	now      func() time.Time
}

// NewGrants returns the grant manager. clients may be nil (names are then
// left empty).
func NewGrants(records GrantRecords, families Families, revoker GrantRevoker, clients Clients) *Grants {
	return &Grants{records: records, families: families, revoker: revoker, clients: clients, now: time.Now}
}

// GrantView is a grant as the APIs show it.
type GrantView struct {
	ID           string     `json:"id"`
	Subject      string     `json:"-"`
	ClientID     string     `json:"client_id"`
	ClientName   string     `json:"client_name"`
	Scopes       []string   `json:"scopes"`
	Device       string     `json:"device"`
	UserAgent    string     `json:"-"`
	FirstIP      string     `json:"first_ip"`
	LastIP       string     `json:"last_ip"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   time.Time  `json:"last_used_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
	RevokeReason string     `json:"revoke_reason"`
	Flow         string     `json:"flow"`
	Active       bool       `json:"active"`
	// Current: the grant of the access token making the request.
	Current bool `json:"current"`
}

// List returns the subject's grants, most recently used first; with
// activeOnly only the active ones (see Grants).
func (g *Grants) List(ctx context.Context, subject string, activeOnly bool) ([]GrantView, error) {
	rows, err := g.records.ListGrants(ctx, subject, false)
	if err != nil {
		return nil, err
	}
	var ids []string
	var idx []int
	for i, r := range rows {
		if r.RevokedAt == nil {
			ids = append(ids, r.ID)
			idx = append(idx, i)
		}
	}
	live := make([]bool, len(rows))
	if len(ids) > 0 {
		l, err := g.families.FamiliesLive(ctx, ids)
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			live[i] = l[j]
		}
	}
	names := map[string]string{}
	out := make([]GrantView, 0, len(rows))
	for i, r := range rows {
		if activeOnly && !live[i] {
			continue
		}
		name, ok := names[r.ClientID]
		if !ok && g.clients != nil {
			if c, err := g.clients.Get(ctx, r.ClientID); err == nil {
				name = c.Name
			}
			names[r.ClientID] = name
		}
		scopes := r.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		out = append(out, GrantView{
			ID: r.ID, Subject: r.Subject, ClientID: r.ClientID, ClientName: name, Scopes: scopes,
			Device: web.DeviceLabel(r.UserAgent), UserAgent: r.UserAgent, FirstIP: r.FirstIP, LastIP: r.LastIP,
			CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, ExpiresAt: r.ExpiresAt,
			RevokedAt: r.RevokedAt, RevokeReason: r.RevokeReason, Flow: r.Flow, Active: live[i],
		})
	}
	return out, nil
}

// Count counts the subject's grants; with activeOnly the active ones, by
// the same rule as List.
func (g *Grants) Count(ctx context.Context, subject string, activeOnly bool) (int, error) {
	if !activeOnly {
		return g.records.CountGrants(ctx, subject, false)
	}
	gs, err := g.List(ctx, subject, true)
	return len(gs), err
}

// Revoke revokes one grant of subject ("" means any subject, for admins)
// for reason: its tokens are gone from Redis before Revoke returns, and its
// record is marked. It returns storage.ErrNotFound for a grant that does not
// exist or belongs to another subject. Revoking a revoked grant succeeds
// and keeps the first reason.
func (g *Grants) Revoke(ctx context.Context, subject, id, reason string) error {
	r, err := g.records.GetGrant(ctx, id)
	if err != nil {
		return err
	}
	if subject != "" && r.Subject != subject {
		return storage.ErrNotFound
	}
	return g.revoke(ctx, id, reason)
}

func (g *Grants) revoke(ctx context.Context, id, reason string) error {
	if err := g.revoker.RevokeGrant(ctx, id, reason); err != nil {
		return fmt.Errorf("revoke grant %s: %w", id, err)
	}
	// The revoker marks the record only when it ended a live family; a
	// grant whose family had already gone (expired in Redis, not yet swept
	// by the janitor) is marked here. Already revoked rows are unchanged.
	if _, err := g.records.RevokeGrant(ctx, id, reason, g.now()); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("record revocation of grant %s: %w", id, err)
	}
	return nil
}

// RevokeAll revokes for reason every grant of subject that is not revoked,
// except those in keep, and returns the ids it revoked. Grants past their
// recorded expiry are included (their family may have slid past it). Grants
// born after the listing are not affected.
func (g *Grants) RevokeAll(ctx context.Context, subject, reason string, keep ...string) ([]string, error) {
	rows, err := g.records.ListGrants(ctx, subject, false)
	if err != nil {
		return nil, err
	}
	var done []string
	var errs []error
	for _, r := range rows {
		if r.RevokedAt != nil || slices.Contains(keep, r.ID) {
			continue
		}
		if err := g.revoke(ctx, r.ID, reason); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, r.ID)
	}
	return done, errors.Join(errs...)
}

// ---------------------------------------------------------------------------
// web.Devices, for the "your devices" page.

var _ web.Devices = (*Grants)(nil)

// ListDevices returns every grant of subject as the devices page shows it.
func (g *Grants) ListDevices(ctx context.Context, subject string) ([]web.Device, error) {
	gs, err := g.List(ctx, subject, false)
	if err != nil {
		return nil, err
	}
	out := make([]web.Device, 0, len(gs))
	for _, v := range gs {
		app := v.ClientName
		if app == "" {
			app = v.ClientID
		}
		d := web.Device{
			ID: v.ID, App: app, Label: v.Device, UserAgent: v.UserAgent, FirstIP: v.FirstIP, LastIP: v.LastIP,
			FirstSeen: v.CreatedAt, LastActive: v.LastUsedAt, Scopes: v.Scopes, Active: v.Active,
			EndReason: v.RevokeReason, EndedAt: v.ExpiresAt,
		}
		if v.RevokedAt != nil {
			d.EndedAt = *v.RevokedAt
		} else if !v.Active {
			// Family gone from Redis, not yet swept by the janitor.
			d.EndReason = storage.RevokedExpired
			if v.ExpiresAt.After(g.now()) || v.ExpiresAt.Before(v.LastUsedAt) {
				d.EndedAt = v.LastUsedAt
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// RevokeDevice revokes one of subject's grants (reason "user").
func (g *Grants) RevokeDevice(ctx context.Context, subject, id string) error {
	return g.Revoke(ctx, subject, id, storage.RevokedByUser)
}

// RevokeOtherDevices revokes all of subject's grants but keep (reason
// "logout_all") and returns how many it revoked.
func (g *Grants) RevokeOtherDevices(ctx context.Context, subject string, keep ...string) (int, error) {
	ids, err := g.RevokeAll(ctx, subject, storage.RevokedLogoutAll, keep...)
	return len(ids), err
}
