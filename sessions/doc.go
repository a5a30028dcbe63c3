// Package sessions owns browser sign-in sessions: their model (Session, whose
// ID is the OpenID Connect sid), their lifecycle (Start, Current, End,
// EndAll, SignOut), the cookie that maps a browser to its session, the record
// of the grants authorized through each, and what ending one ends: the
// cookie, the session's Redis state, its "this browser" markers and the
// grants born from it that were not granted offline_access (Back-Channel
// Logout 1.0 §2.7), after which every Listener hears of it. Sessions live in
// Redis (storage/redisstore) with an idle timeout and an absolute lifetime,
// indexed per user and in a due index by expiry, from which Sweep ends the
// sessions that expired as End ends any other (reason "expired").
package sessions
