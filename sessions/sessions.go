package sessions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/storage"
)

// Session is one browser's sign-in.
type Session struct {
	// ID is the OIDC sid: random, URL-safe, not derived from the cookie.
	ID       string
	Subject  string
	Username string
	AuthTime time.Time // when the user signed in (whole seconds)
	Created  time.Time
	LastSeen time.Time
	End      time.Time // absolute end
	Device   string    // label from the browser's User-Agent
	IP       string
	// Grants are the grants authorized through the session (set by List
	// and in Ended).
	Grants []storage.SessionGrant
}

// Ended is what ending a session reports to its listeners.
type Ended struct {
	Session Session
	Clients []string // ids of clients authorized through the session (dedup)
	Reason  string
}

// Listener learns of every session that ends (by logout, the devices page,
// the API, an admin, sign out everywhere or expiry, found by Sweep). It must not block: enqueue and
// return.
type Listener interface {
	SessionEnded(ctx context.Context, e Ended)
}

// Store keeps sessions (storage/redisstore). Missing sessions are
// storage.ErrNotFound.
type Store interface {
	// CreateSession stores b with its cookie hash and indexes it under its
	// subject, all expiring at b.Expires, in one round trip.
	CreateSession(ctx context.Context, b storage.BrowserSession) error
	// CookieSession is the session a cookie hash maps to.
	CookieSession(ctx context.Context, cookieHash string) (sid, subject string, end time.Time, err error)
	// TouchSession marks the session used at now, to expire at x.
	TouchSession(ctx context.Context, sid, subject, cookieHash string, now, x time.Time) (storage.BrowserSession, error)
	AddSessionGrant(ctx context.Context, sid string, g storage.SessionGrant) error
	// ListSessions returns subject's live sessions with their grants.
	ListSessions(ctx context.Context, subject string, now time.Time) ([]storage.BrowserSession, error)
	// SessionIDs returns the ids indexed under subject.
	SessionIDs(ctx context.Context, subject string, now time.Time) ([]string, error)
	// DeleteSession deletes every key of the session and returns it; with
	// an error, a session with an ID is deleted though some keys may
	// remain until they expire.
	DeleteSession(ctx context.Context, sid string, now time.Time) (storage.BrowserSession, error)
	// DueSessions returns up to perShard ids of sessions due to expire by
	// now from each shard of the due index, and whether there are more.
	DueSessions(ctx context.Context, now time.Time, perShard int) (sids []string, more bool, err error)
	// DeleteExpiredSession is DeleteSession for a session expired by now;
	// storage.ErrNotFound when it is gone or not expired.
	DeleteExpiredSession(ctx context.Context, sid string, now time.Time) (storage.BrowserSession, error)
}

// Grants ends grants (grants.Manager).
type Grants interface {
	Revoke(ctx context.Context, id, reason string) error
}

// Cookie is the session cookie's name; with Secure it carries the __Host-
// prefix (RFC 6265bis §4.1.3.2).
const Cookie = "authd_session"

// CookieName is the session cookie's name for secure (https) deployments
// or not.
func CookieName(secure bool) string {
	if secure {
		return "__Host-" + Cookie
	}
	return Cookie
}

// Config configures New.
type Config struct {
	Store  Store
	Grants Grants // optional: no grant is revoked when a session ends
	// TTL is a session's absolute lifetime (default 24h); Idle ends a
	// session unused this long (0: only TTL).
	TTL, Idle time.Duration
	// Secure: https issuer (Secure, __Host- cookie).
	Secure bool
	// DeviceLabel labels a User-Agent ("Firefox on Linux").
	DeviceLabel func(userAgent string) string
	Listeners   []Listener
	Logger      *slog.Logger
}

// Manager runs sessions; see the package documentation.
type Manager struct {
	// Listeners hear of every session that ends; set them before serving.
	Listeners []Listener

	store  Store
	grants Grants
	ttl    time.Duration
	idle   time.Duration
	secure bool
	cookie string
	label  func(string) string
	log    *slog.Logger
	now    func() time.Time
}

// New returns a Manager.
func New(c Config) *Manager {
	if c.TTL <= 0 {
		c.TTL = 24 * time.Hour
	}
	if c.Idle >= c.TTL {
		c.Idle = 0
	}
	if c.DeviceLabel == nil {
		c.DeviceLabel = func(ua string) string { return ua }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &Manager{
		Listeners: c.Listeners, store: c.Store, grants: c.Grants, ttl: c.TTL, idle: c.Idle,
		secure: c.Secure, cookie: CookieName(c.Secure), label: c.DeviceLabel, log: c.Logger, now: time.Now,
	}
}

// TTL is the sessions' absolute lifetime.
func (m *Manager) TTL() time.Duration { return m.ttl }

// expiry is when a session used at now expires unless used again.
func (m *Manager) expiry(now, end time.Time) time.Time {
	if m.idle > 0 && now.Add(m.idle).Before(end) {
		return now.Add(m.idle)
	}
	return end
}

func randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func cookieHash(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Start signs the browser of r in as subject: a new session (one Redis
// round trip) and its cookie on w.
func (m *Manager) Start(w http.ResponseWriter, r *http.Request, subject, username string) (*Session, error) {
	cookie, err := randomID(32)
	if err != nil {
		return nil, err
	}
	sid, err := randomID(24)
	if err != nil {
		return nil, err
	}
	now := m.now().UTC().Truncate(time.Millisecond)
	b := storage.BrowserSession{
		ID: sid, Subject: subject, Username: username, AuthTime: now.Truncate(time.Second),
		Created: now, LastSeen: now, End: now.Add(m.ttl), Device: m.label(r.UserAgent()), IP: httpx.ClientIP(r),
		CookieHash: cookieHash(cookie),
	}
	b.Expires = m.expiry(now, b.End)
	if err := m.store.CreateSession(r.Context(), b); err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: m.cookie, Value: cookie, Path: "/", HttpOnly: true, Secure: m.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(m.ttl.Seconds()),
	})
	s := fromStored(b)
	return &s, nil
}

func fromStored(b storage.BrowserSession) Session {
	return Session{
		ID: b.ID, Subject: b.Subject, Username: b.Username, AuthTime: b.AuthTime, Created: b.Created,
		LastSeen: b.LastSeen, End: b.End, Device: b.Device, IP: b.IP, Grants: b.Grants,
	}
}

// cookieOf is the hash of r's session cookie ("" without one).
func (m *Manager) cookieOf(r *http.Request) string {
	c, err := r.Cookie(m.cookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return ""
	}
	return cookieHash(c.Value)
}

// Current returns the session of r's browser, if any, and marks it used
// (last seen now; an idle timeout starts again, never past its end). Two
// Redis round trips.
func (m *Manager) Current(r *http.Request) (*Session, bool) {
	ck := m.cookieOf(r)
	if ck == "" {
		return nil, false
	}
	ctx := r.Context()
	sid, sub, end, err := m.store.CookieSession(ctx, ck)
	if err != nil {
		m.logFailure(ctx, "session of cookie", err)
		return nil, false
	}
	now := m.now().UTC().Truncate(time.Millisecond)
	if !now.Before(end) {
		// Past its absolute end (its keys expire at it, give or take
		// clock skew): end it now, listeners included.
		_ = m.End(ctx, sid, storage.RevokedExpired)
		return nil, false
	}
	b, err := m.store.TouchSession(ctx, sid, sub, ck, now, m.expiry(now, end))
	if err != nil {
		m.logFailure(ctx, "touch session", err)
		return nil, false
	}
	s := fromStored(b)
	return &s, true
}

func (m *Manager) logFailure(ctx context.Context, what string, err error) {
	if !errors.Is(err, storage.ErrNotFound) {
		m.log.WarnContext(ctx, what, "err", err)
	}
}

// CurrentID is the id of the session r's cookie maps to ("" when none),
// without marking it used: one Redis read.
func (m *Manager) CurrentID(r *http.Request) string {
	ck := m.cookieOf(r)
	if ck == "" {
		return ""
	}
	sid, _, end, err := m.store.CookieSession(r.Context(), ck)
	if err != nil || !m.now().Before(end) {
		return ""
	}
	return sid
}

// RememberGrant records that grant of client was authorized through s, so
// ending s revokes it (unless offline) and tells the client. Failure is
// logged: it costs the "this browser" mark and that revocation.
func (m *Manager) RememberGrant(ctx context.Context, s *Session, client, grant string, offline bool) {
	if s == nil || s.ID == "" || grant == "" {
		return
	}
	err := m.store.AddSessionGrant(ctx, s.ID, storage.SessionGrant{Grant: grant, Client: client, Offline: offline})
	if err != nil {
		m.log.WarnContext(ctx, "remember grant of session", "err", err)
	}
}

// List returns subject's live sessions, with the grants authorized through
// each, most recently seen first. Two Redis round trips.
func (m *Manager) List(ctx context.Context, subject string) ([]Session, error) {
	bs, err := m.store.ListSessions(ctx, subject, m.now())
	if err != nil {
		return nil, err
	}
	out := make([]Session, 0, len(bs))
	for _, b := range bs {
		out = append(out, fromStored(b))
	}
	slices.SortFunc(out, func(a, b Session) int { return b.LastSeen.Compare(a.LastSeen) })
	return out, nil
}

// End ends session sid for reason (a storage.Revoked* reason): its cookie,
// its Redis state and index entry, then the grants born from it that do not
// hold offline_access; then the listeners hear of it. storage.ErrNotFound
// when there is no such session.
func (m *Manager) End(ctx context.Context, sid, reason string) error {
	b, err := m.store.DeleteSession(ctx, sid, m.now())
	return m.ended(ctx, b, err, reason)
}

// ended ends what session b (just deleted, with err) started.
func (m *Manager) ended(ctx context.Context, b storage.BrowserSession, err error, reason string) error {
	if b.ID == "" {
		return err
	}
	// The session is gone (err: its cookie mapping or index entry may
	// linger until they expire); what it ends is ended all the same.
	e := Ended{Session: fromStored(b), Reason: reason}
	e.Clients = e.Session.View(false).Clients
	errs := []error{err}
	for _, g := range b.Grants {
		if g.Offline || m.grants == nil {
			continue
		}
		if err := m.grants.Revoke(ctx, g.Grant, reason); err != nil {
			errs = append(errs, fmt.Errorf("session %s: %w", b.ID, err))
		}
	}
	for _, l := range m.Listeners {
		l.SessionEnded(ctx, e)
	}
	return errors.Join(errs...)
}

// SweepBatch is how many due sessions a sweep takes from each shard of the
// due index per round.
const SweepBatch = 64

// sweepRounds bounds the rounds of one Sweep.
const sweepRounds = 8

// Sweep ends, for reason storage.RevokedExpired, the sessions whose
// expiry (idle timeout or absolute end) has passed, as End does: their
// grants without offline_access are revoked and the listeners hear of
// them. It returns how many it ended. Each round is one Redis read of the
// due index plus End's cost per due session; a session used again since is
// left alone.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	n := 0
	var errs []error
	for range sweepRounds {
		now := m.now()
		sids, more, err := m.store.DueSessions(ctx, now, SweepBatch)
		if err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		for _, sid := range sids {
			b, err := m.store.DeleteExpiredSession(ctx, sid, now)
			switch err := m.ended(ctx, b, err, storage.RevokedExpired); {
			case b.ID != "":
				n++
				if err != nil {
					errs = append(errs, err)
				}
			case err != nil && !errors.Is(err, storage.ErrNotFound):
				errs = append(errs, err)
			}
		}
		if !more || ctx.Err() != nil {
			break
		}
	}
	return n, errors.Join(errs...)
}

// EndFor ends session sid when it is subject's (storage.ErrNotFound
// otherwise).
func (m *Manager) EndFor(ctx context.Context, subject, sid, reason string) error {
	ids, err := m.store.SessionIDs(ctx, subject, m.now())
	if err != nil {
		return err
	}
	if !slices.Contains(ids, sid) {
		return storage.ErrNotFound
	}
	return m.End(ctx, sid, reason)
}

// EndAll ends every session of subject except those in keep and returns
// how many it ended.
func (m *Manager) EndAll(ctx context.Context, subject, reason string, keep ...string) (int, error) {
	ids, err := m.store.SessionIDs(ctx, subject, m.now())
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, sid := range ids {
		if slices.Contains(keep, sid) {
			continue
		}
		switch err := m.End(ctx, sid, reason); {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			errs = append(errs, err)
		default:
			n++
		}
	}
	return n, errors.Join(errs...)
}

// SignOut ends the session of r's browser (if any) for reason and clears
// its cookie.
func (m *Manager) SignOut(w http.ResponseWriter, r *http.Request, reason string) error {
	m.ClearCookie(w)
	sid := m.CurrentID(r)
	if sid == "" {
		return nil
	}
	if err := m.End(r.Context(), sid, reason); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}

// ClearCookie tells the browser to forget its session cookie.
func (m *Manager) ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: m.cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode,
	})
}

// View is a session as the sessions APIs show it.
type View struct {
	ID       string    `json:"id"`
	Device   string    `json:"device"`
	IP       string    `json:"ip"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	AuthTime time.Time `json:"auth_time"`
	Expires  time.Time `json:"expires"` // the absolute end
	Clients  []string  `json:"clients"` // ids of clients authorized through it
	Current  bool      `json:"current"`
}

// View is s as the APIs show it; current marks the caller's own session.
func (s Session) View(current bool) View {
	clients := []string{}
	for _, g := range s.Grants {
		if !slices.Contains(clients, g.Client) {
			clients = append(clients, g.Client)
		}
	}
	return View{
		ID: s.ID, Device: s.Device, IP: s.IP, Created: s.Created, LastSeen: s.LastSeen, AuthTime: s.AuthTime,
		Expires: s.End, Clients: clients, Current: current,
	}
}
