package logout

import (
	"context"
	"net/url"
	"sync"
)

// Front-Channel Logout 1.0: when the logout endpoint ends this browser's
// session, the signed-out page loads the front-channel logout URI of each
// client the session signed in through, with iss and sid, in an iframe.
// The session's clients are known when it ends: the sessions area tells
// its listeners, and EndSession, one of them, records them for the
// request that ended it.

// endedRecord collects the sessions one request ended.
type endedRecord struct {
	mu       sync.Mutex
	sessions map[string][]string // sid -> its clients
}

type endedKey struct{}

// recordEnded is ctx carrying a record of the sessions ended under it.
func recordEnded(ctx context.Context) (context.Context, *endedRecord) {
	rec := &endedRecord{sessions: map[string][]string{}}
	return context.WithValue(ctx, endedKey{}, rec), rec
}

// Ended notes that session sid, signed in through clients, ended, for the
// request of ctx if it is a logout that renders front-channel frames
// (nothing otherwise). It does not block.
func (e *EndSession) Ended(ctx context.Context, sid string, clients []string) {
	rec, ok := ctx.Value(endedKey{}).(*endedRecord)
	if !ok {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.sessions[sid] = append(rec.sessions[sid], clients...)
}

// frames are the front-channel logout URIs, with iss and sid, of the
// clients of the sessions rec saw end.
func (e *EndSession) frames(ctx context.Context, rec *endedRecord) []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for sid, clients := range rec.sessions {
		for _, id := range dedup(clients) {
			c, err := e.Clients.Client(ctx, id)
			if err != nil || c.FrontchannelLogoutURI == "" {
				continue
			}
			u, err := url.Parse(c.FrontchannelLogoutURI)
			if err != nil {
				continue
			}
			q := u.Query()
			q.Set("iss", e.Issuer)
			q.Set("sid", sid)
			u.RawQuery = q.Encode()
			out = append(out, u.String())
		}
	}
	return out
}
