package main

import (
	"context"
	"net/http"

	"github.com/authd/authd/logout"
	"github.com/authd/authd/sessions"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/web"
)

// The logout area's adapters over the concrete stores.

// logoutClients reads registrations from the client cache.
type logoutClients struct{ c *fositestore.ClientCache }

func (l logoutClients) Client(ctx context.Context, id string) (*storage.Client, error) {
	cl, err := l.c.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return &cl.Client, nil
}

// withLogoutTokens makes the sessions ss ends (from the command line) queue
// their back-channel logout tokens; the serving replicas deliver them.
func withLogoutTokens(ss *sessions.Manager, c Config, rs *redisstore.Store, clients *fositestore.ClientCache) *sessions.Manager {
	ss.Listeners = append(ss.Listeners, logout.NewBackChannel(logout.BackChannelConfig{
		Issuer: c.Issuer, Clients: logoutClients{clients}, Queue: rs, Backoff: c.backchannelBackoff,
	}))
	return ss
}

// logoutBrowser is this browser's session from the pages.
type logoutBrowser struct{ p *web.Pages }

func (b logoutBrowser) Current(r *http.Request) (logout.Session, bool) {
	s, ok := b.p.Current(r)
	if !ok {
		return logout.Session{}, false
	}
	return logout.Session{ID: s.ID, Subject: s.Subject, Username: s.Username}, true
}

func (b logoutBrowser) SignOut(w http.ResponseWriter, r *http.Request, reason string) error {
	return b.p.SignOut(w, r, reason)
}
