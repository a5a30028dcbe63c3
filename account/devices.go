package account

import (
	"context"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/web"
)

// Devices is the "your devices" page's view of a subject's grants
// (web.Devices) over the grants home.
type Devices struct {
	Grants Grants
}

var _ web.Devices = Devices{}

// ListDevices returns every grant of subject as the devices page shows it.
func (d Devices) ListDevices(ctx context.Context, subject string) ([]web.Device, error) {
	gs, err := d.Grants.List(ctx, subject, false)
	if err != nil {
		return nil, err
	}
	out := make([]web.Device, 0, len(gs))
	for _, v := range gs {
		app := v.ClientName
		if app == "" {
			app = v.ClientID
		}
		out = append(out, web.Device{
			ID: v.ID, App: app, Label: v.Device, UserAgent: v.UserAgent, FirstIP: v.FirstIP, LastIP: v.LastIP,
			FirstSeen: v.CreatedAt, LastActive: v.LastUsedAt, Scopes: v.Scopes, Active: v.Active,
			EndedAt: v.EndedAt, EndReason: v.EndReason,
		})
	}
	return out, nil
}

// RevokeDevice revokes one of subject's grants (reason "user").
func (d Devices) RevokeDevice(ctx context.Context, subject, id string) error {
	return d.Grants.RevokeFor(ctx, subject, id, storage.RevokedByUser)
}

// RevokeOtherDevices revokes all of subject's grants but keep (reason
// "logout_all") and returns how many it revoked.
func (d Devices) RevokeOtherDevices(ctx context.Context, subject string, keep ...string) (int, error) {
	ids, err := d.Grants.RevokeAll(ctx, subject, storage.RevokedLogoutAll, keep...)
	return len(ids), err
}
