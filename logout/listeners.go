package logout

import (
	"context"

	"github.com/authd/authd/sessions"
)

// SessionEnded queues the back-channel deliveries of a session that ended
// (however it ended: logout, the devices page, the APIs, an admin, sign
// out everywhere, expiry found by the session sweep). It returns at once; a queue that cannot be written is
// logged (those deliveries are lost).
func (b *BackChannel) SessionEnded(ctx context.Context, e sessions.Ended) {
	if err := b.Enqueue(ctx, e.Session.ID, e.Session.Subject, e.Clients); err != nil {
		b.cfg.Logger.ErrorContext(ctx, "back-channel logout: session ended, deliveries not queued",
			"clients", len(e.Clients), "err", err)
	}
}

// SessionEnded records the session's clients for the front-channel frames
// of the logout request that ended it, if one did.
func (e *EndSession) SessionEnded(ctx context.Context, ev sessions.Ended) {
	e.Ended(ctx, ev.Session.ID, ev.Clients)
}

var (
	_ sessions.Listener = (*BackChannel)(nil)
	_ sessions.Listener = (*EndSession)(nil)
)
