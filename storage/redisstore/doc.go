// Package redisstore owns authd's short-lived state in Redis: authorization
// codes, PKCE and OpenID Connect request sessions, access-token sessions,
// the refresh-token family of each grant, device authorizations, browser
// sign-in sessions and their per-user index, client assertion ids, failure counters and the grant
// usage waiting to be written to Postgres. Token state carries a TTL equal
// to what is left of its token's lifetime, so expired state disappears by
// itself.
//
// It knows nothing about fosite: values are opaque payloads, and tokens are
// addressed by their grant id and a MAC. All keys of one grant share the Redis
// hash tag {grant}, so the multi-key scripts below (rotation, revocation of a
// family) are atomic on a single server and legal on a Redis Cluster. It
// turns go-redis failures into storage sentinels (errors.go): a lost race is
// storage.ErrStale, a write to a revoked grant storage.ErrRevoked, a Redis
// that cannot answer now storage.ErrUnavailable.
//
// Every key the package writes, for prefix P (production "authd:") and
// grant id G:
//
//	P{G}:c    hash    authorization code: m (mac), p (payload, dropped once exchanged),
//	                  s (0 fresh, 2 being exchanged, 1 exchanged: kept to detect a replay).
//	                  TTL: the code's lifetime.
//	P{G}:pk   string  PKCE request payload. TTL: the code's lifetime.
//	P{G}:oi   string  OpenID Connect request payload. TTL: the code's lifetime.
//	P{G}:at   string  the grant's live access token: mac "|" payload. TTL: the
//	                  access token's lifetime; dropped by a rotation or revocation.
//	P{G}:f    hash    the grant's family: g (refresh generation), m (mac of the live
//	                  refresh token, "" while a rotation is in flight), p (refresh
//	                  payload), pm (mac of the token a rotation in flight retires),
//	                  ra (when the last rotation began, Unix ms), ru (when the last
//	                  rotation ran, Unix µs: a request that began before it is a
//	                  duplicate, not reuse), r ("1" once revoked:
//	                  a tombstone that stops racing writers from resurrecting the
//	                  grant), u ("1": a user's grant). TTL: the family's end (the
//	                  refresh token's, sliding with each rotation; the access
//	                  token's when no refresh token is issued); a tombstone for a
//	                  grant without a family lives the tombstone TTL.
//	P{G}:rs   hash    the refresh retry window's kept response: g, m (the rotated-away
//	                  token), c (client id), b (sealed response). TTL: the retry
//	                  window; dropped by the next rotation or a revocation.
//	P{G}:dc   hash    device authorization (device.go): m, c, s, r, st, u, p, lp, iv.
//	                  TTL: the device code's lifetime.
//	Puc:<user code>      string  the grant id the user code belongs to (no hash tag).
//	                             TTL: the device code's lifetime.
//	Pbs:{S}              hash    browser sign-in session S (sessions.go): p (JSON), ck, ls, x
//	                             (its end unless used again: idle timeout, never past its
//	                             absolute end; moved by each use). Gone for every read
//	                             once past x. TTL: x + SessionGrace (1 h), for the
//	                             expiry sweep, which deletes it.
//	Pbs:{S}:g            set     grants authorized through session S: "<0|1><grant> <client>"
//	                             (1: offline_access). TTL: the session's.
//	Pbc:<cookie hash>    string  "S|subject|absolute end": the cookie's session. TTL: x.
//	Pbu:<subject>        zset    S -> x of each session of the subject. TTL: the latest
//	                             member's x; members past theirs are dropped on each
//	                             read or write, so it never outlives its sessions.
//	Pbsd:{N}             zset    the session due index, N in 0..15 (fnv32a of S mod 16):
//	                             S -> x. Written with create and touch (same pipeline),
//	                             read by the expiry sweep, member removed when the session
//	                             ends. TTL: SessionGrace past its latest member's x.
//	Pjti:<sha256 of client id and jti>
//	                     string  "1": a client assertion id already used by that client (RFC 7523).
//	                             TTL: until the assertion expires (at least 1 s).
//	Ponce:<sha256 of id> string  "1": a one-time value already used (a carried authorization
//	                             request, MarkOnce). TTL: the value's lifetime (10 min).
//	Prl:<key>            string  a failure counter (throttling guesses). TTL: its
//	                             window, from the first failure.
//	Prl:{<kind>:<hash>}:h|b|l|g|n
//	                     hash (h), strings  the failed-authentication limiter's state of one
//	                             hashed identity (package ratelimit, store.go: failures and
//	                             attempts in flight, block, block level, recent success,
//	                             an account's failures) and the device authorization rate
//	                             (kind da, :n). TTL: the window, twice the block plus the
//	                             window (:l), MaxWindow (:n), 7 days (:g).
//	Prl:{reg:<hash of source address>}:n
//	                     string  dynamic client registrations from one source address
//	                             (ratelimit.Window). TTL: the hour's window, from the first.
//	Ptouch:{N}           hash    grant id -> its latest use, N in 0..15 (usage.go).
//	                             TTL: UsageTTL (7 days), refreshed by every write; the
//	                             usage flusher takes and deletes whole shards.
//	P{bcl}:due           zset    back-channel logout jobs (logoutqueue.go): job id -> due
//	                             time (Unix ms; a claimed job's lease end). TTL: the job
//	                             lifetime, refreshed by every enqueue (outlives its jobs).
//	P{bcl}:j:<id>        hash    one job: p (payload from package logout), a (failed
//	                             attempts), c (the holding claim). TTL: the job lifetime
//	                             (its retries at their longest plus an hour, about 2.4 h); deleted
//	                             when delivered or given up.
package redisstore
