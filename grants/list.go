package grants

import (
	"context"
	"time"

	"github.com/authd/authd/storage"
)

// View is a grant as listings show it: the row, the client's name, and
// whether the grant is active.
type View struct {
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
	// Active: the row is not revoked AND the family is live in Redis.
	Active bool `json:"active"`
	// Current: the grant of the access token making the request (set by
	// the account API).
	Current bool `json:"current"`
	// EndedAt and EndReason tell, for an inactive grant, when and why it
	// ended (see ended).
	EndedAt   time.Time `json:"-"`
	EndReason string    `json:"-"`
}

// List returns the subject's grants, most recently used first; with
// activeOnly only the active ones.
//
// A grant is active when its row is not revoked AND its token family is
// live in Redis: Redis is where tokens work or not, so the active grants are
// those whose refresh tokens would still be accepted. The row's expires_at
// is not trusted for this: refresh tokens slide, so a family may outlive the
// expiry recorded at its birth until the next usage flush moves it.
func (m *Manager) List(ctx context.Context, subject string, activeOnly bool) ([]View, error) {
	rows, err := m.records.ListGrants(ctx, subject)
	if err != nil {
		return nil, err
	}
	live, err := m.live(ctx, rows)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	now := m.now()
	out := make([]View, 0, len(rows))
	for i, g := range rows {
		if activeOnly && !live[i] {
			continue
		}
		name, ok := names[g.ClientID]
		if !ok {
			name = m.clientName(ctx, g.ClientID)
			names[g.ClientID] = name
		}
		out = append(out, m.view(g, name, live[i], now))
	}
	return out, nil
}

// live reports which of rows are live in Redis: unrevoked rows whose family
// is live (one round trip for them all; revoked rows are not asked about).
func (m *Manager) live(ctx context.Context, rows []storage.Grant) ([]bool, error) {
	var ids []string
	var idx []int
	for i, g := range rows {
		if g.RevokedAt == nil {
			ids = append(ids, g.ID)
			idx = append(idx, i)
		}
	}
	live := make([]bool, len(rows))
	if len(ids) == 0 {
		return live, nil
	}
	l, err := m.families.FamiliesLive(ctx, ids)
	if err != nil {
		return nil, err
	}
	for j, i := range idx {
		live[i] = l[j]
	}
	return live, nil
}

func (m *Manager) clientName(ctx context.Context, id string) string {
	if m.clients == nil {
		return ""
	}
	name, err := m.clients.ClientName(ctx, id)
	if err != nil {
		return ""
	}
	return name
}

func (m *Manager) view(g storage.Grant, clientName string, active bool, now time.Time) View {
	scopes := g.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	v := View{
		ID: g.ID, Subject: g.Subject, ClientID: g.ClientID, ClientName: clientName, Scopes: scopes,
		Device: m.label(g.UserAgent), UserAgent: g.UserAgent, FirstIP: g.FirstIP, LastIP: g.LastIP,
		CreatedAt: g.CreatedAt, LastUsedAt: g.LastUsedAt, ExpiresAt: g.ExpiresAt,
		RevokedAt: g.RevokedAt, RevokeReason: g.RevokeReason, Flow: g.Flow, Active: active,
	}
	v.EndedAt, v.EndReason = ended(v, now)
	return v
}

// ended tells when and why an inactive grant ended: a revoked one at its
// revocation, for its reason; one whose family is gone from Redis but that
// the janitor has not swept yet "expired", at its recorded expiry when that
// is plausible, else at its last use (the family slid past the recorded
// expiry, or went early: evicted or lost). An active grant's are its
// expiry and no reason.
func ended(v View, now time.Time) (time.Time, string) {
	switch {
	case v.RevokedAt != nil:
		return *v.RevokedAt, v.RevokeReason
	case v.Active:
		return v.ExpiresAt, v.RevokeReason
	case v.ExpiresAt.After(now) || v.ExpiresAt.Before(v.LastUsedAt):
		return v.LastUsedAt, storage.RevokedExpired
	}
	return v.ExpiresAt, storage.RevokedExpired
}

// Count counts the subject's grants; with activeOnly the active ones, by
// the same rule as List.
func (m *Manager) Count(ctx context.Context, subject string, activeOnly bool) (int, error) {
	if !activeOnly {
		return m.records.CountGrants(ctx, subject)
	}
	gs, err := m.List(ctx, subject, true)
	return len(gs), err
}
