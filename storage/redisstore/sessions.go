package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
)

// Browser sign-in sessions (package sessions decides what they mean). For
// session id S, cookie hash C and subject U:
//
//	Pbs:{S}    hash    p (the session: JSON), ck (C), ls (last seen, Unix ms),
//	                   x (when it expires unless used again, Unix ms)
//	Pbs:{S}:g  set     grants authorized through it: "<0|1><grant> <client>"
//	                   (1: the grant holds offline_access)
//	Pbc:C      string  "S|U|end": the cookie's session
//	Pbu:U      zset    S -> x of each session of U (the per-user index)
//	Pbsd:{N}   zset    S -> x of every session whose id hashes to shard N
//	                   (0..15): the due index the expiry sweep reads
//
// A session ends at its x. The cookie and the index live until it (the
// index until its latest member's x; it drops members past theirs whenever
// it is written or read, so it never outlives its sessions); the session's
// hash and grant set live SessionGrace longer, so that the sweep (package
// sessions) can still end what the session started when it finds it in
// the due index. Past x they count as gone for every read and write but
// the sweep's. Each use moves x (and the TTLs with it) on all of them; a
// due shard lives SessionGrace past its latest member's x.

// SessionGrace is how long an expired session's hash and grant set outlive
// its x waiting for the expiry sweep.
const SessionGrace = time.Hour

// dueShards is the number of due-index shards (spread over a cluster).
const dueShards = 16

func (s *Store) sessKey(sid string) string    { return s.prefix + "bs:{" + sid + "}" }
func (s *Store) sessGrants(sid string) string { return s.prefix + "bs:{" + sid + "}:g" }
func (s *Store) cookieKey(ck string) string   { return s.prefix + "bc:" + ck }
func (s *Store) userIndex(sub string) string  { return s.prefix + "bu:" + sub }
func (s *Store) dueShard(n int) string        { return s.prefix + "bsd:{" + strconv.Itoa(n) + "}" }

// dueKey is the due-index shard of session sid.
func (s *Store) dueKey(sid string) string {
	h := fnv.New32a()
	h.Write([]byte(sid))
	return s.dueShard(int(h.Sum32() % dueShards))
}

// DueKey is the due-index shard of session sid (tests check its TTL).
func (s *Store) DueKey(sid string) string { return s.dueKey(sid) }

// sessionDue sets ARGV[2]'s due time to ARGV[1] in a due shard and keeps
// the shard alive until at least ARGV[3].
var sessionDue = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local t = redis.call('PEXPIRETIME', KEYS[1])
if t == -1 or t < tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return 1
`)

// markDue queues sid's due time x in p.
func (s *Store) markDue(ctx context.Context, p redis.Pipeliner, sid string, x int64) {
	sessionDue.Eval(ctx, p, []string{s.dueKey(sid)}, x, sid, x+SessionGrace.Milliseconds())
}

// SessionKeys returns the Redis keys of session sid, cookie hash ck and
// subject sub (tests check their TTLs): session, grants, cookie, index.
func (s *Store) SessionKeys(sid, ck, sub string) []string {
	return []string{s.sessKey(sid), s.sessGrants(sid), s.cookieKey(ck), s.userIndex(sub)}
}

// sessionIndex maintains a per-user index: it drops members past their
// expiry, then adds (ARGV[2] "add"), moves ("touch", only an existing
// member) or removes ("del") ARGV[3] with score ARGV[4], sets the index to
// expire with its latest member and, for "read", returns the members.
var sessionIndex = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
if ARGV[2] == 'add' then redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
elseif ARGV[2] == 'touch' then redis.call('ZADD', KEYS[1], 'XX', ARGV[4], ARGV[3])
elseif ARGV[2] == 'del' then redis.call('ZREM', KEYS[1], ARGV[3]) end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #top == 0 then return {} end
redis.call('PEXPIREAT', KEYS[1], top[2])
if ARGV[2] == 'read' then return redis.call('ZRANGE', KEYS[1], 0, -1) end
return {}
`)

type sessWire struct {
	Sub     string `json:"s"`
	User    string `json:"u,omitempty"`
	Auth    int64  `json:"at"`
	Created int64  `json:"cr"` // Unix ms
	End     int64  `json:"e"`  // Unix ms
	Device  string `json:"d,omitempty"`
	IP      string `json:"ip,omitempty"`
}

func msTime(n int64) time.Time { return time.UnixMilli(n).UTC() }

var createSession = redis.NewScript(`
redis.call('HSET', KEYS[1], 'p', ARGV[1], 'ck', ARGV[2], 'ls', ARGV[3], 'x', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[4] + ARGV[5])
return 1
`)

// CreateSession stores a new session and its cookie, and indexes it under
// its subject and in the due index, to expire at b.Expires: one round trip,
// one command or script per key (they live in different slots). A failure of any part fails the call, so
// the caller sets no cookie and what was written stays unreachable until
// it expires.
func (s *Store) CreateSession(ctx context.Context, b storage.BrowserSession) error {
	p, _ := json.Marshal(sessWire{
		Sub: b.Subject, User: b.Username, Auth: b.AuthTime.Unix(), Created: b.Created.UnixMilli(),
		End: b.End.UnixMilli(), Device: b.Device, IP: b.IP,
	})
	x, now := b.Expires.UnixMilli(), b.Created.UnixMilli()
	_, err := s.rdb.Pipelined(ctx, func(t redis.Pipeliner) error {
		sessionIndex.Eval(ctx, t, []string{s.userIndex(b.Subject)}, now, "add", b.ID, x)
		t.Set(ctx, s.cookieKey(b.CookieHash), b.ID+"|"+b.Subject+"|"+strconv.FormatInt(b.End.UnixMilli(), 10), max(time.Until(b.Expires), time.Millisecond))
		createSession.Eval(ctx, t, []string{s.sessKey(b.ID)}, p, b.CookieHash, b.LastSeen.UnixMilli(), x, SessionGrace.Milliseconds())
		s.markDue(ctx, t, b.ID, x)
		return nil
	})
	return wrap("create session", err)
}

// CookieSession returns the session id, subject and absolute end the
// cookie hash ck maps to (storage.ErrNotFound when none).
func (s *Store) CookieSession(ctx context.Context, ck string) (sid, sub string, end time.Time, err error) {
	v, err := s.reads.Get(ctx, s.cookieKey(ck)).Result()
	if errors.Is(err, redis.Nil) {
		return "", "", time.Time{}, storage.ErrNotFound
	} else if err != nil {
		return "", "", time.Time{}, wrap("cookie session", err)
	}
	sid, rest, _ := strings.Cut(v, "|")
	i := strings.LastIndexByte(rest, '|')
	if i < 0 {
		return "", "", time.Time{}, storage.ErrNotFound
	}
	n, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil {
		return "", "", time.Time{}, storage.ErrNotFound
	}
	return sid, rest[:i], msTime(n), nil
}

var touchSession = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'p', 'ck', 'x')
if not v[1] then return false end
if v[2] ~= ARGV[1] or tonumber(v[3] or 0) <= tonumber(ARGV[2]) then return tonumber(v[3] or 0) end
redis.call('HSET', KEYS[1], 'ls', ARGV[2], 'x', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[3] + ARGV[4])
redis.call('PEXPIREAT', KEYS[2], ARGV[3] + ARGV[4])
return v[1]
`)

// TouchSession marks session sid of sub (reached through cookie hash ck)
// used at now and moves its end, its cookie's, its index entry's and its
// due time to x. One round trip; storage.ErrNotFound when the session is
// gone (or past its x) or not ck's.
func (s *Store) TouchSession(ctx context.Context, sid, sub, ck string, now, x time.Time) (storage.BrowserSession, error) {
	var touch *redis.Cmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		touch = touchSession.Eval(ctx, p, []string{s.sessKey(sid), s.sessGrants(sid)}, ck, now.UnixMilli(), x.UnixMilli(), SessionGrace.Milliseconds())
		sessionIndex.Eval(ctx, p, []string{s.userIndex(sub)}, now.UnixMilli(), "touch", sid, x.UnixMilli())
		p.PExpireAt(ctx, s.cookieKey(ck), x)
		s.markDue(ctx, p, sid, x.UnixMilli())
		return nil
	})
	if errors.Is(err, redis.Nil) || err == nil && !isString(touch.Val()) {
		// Not touched: the pipeline moved the due entry all the same; put
		// it back (the session's x, or none when it is gone).
		return storage.BrowserSession{}, notFoundAfter(s.fixDue(ctx, sid, touch.Val()))
	} else if err != nil {
		return storage.BrowserSession{}, wrap("touch session", err)
	}
	b, err := decodeSession(sid, touch.Val())
	b.CookieHash, b.LastSeen, b.Expires = ck, now, x
	return b, err
}

func isString(v any) bool { _, ok := v.(string); return ok }

// fixDue sets sid's due entry to x (an int64 from a script) or, when x is
// none (the session is gone), removes it.
func (s *Store) fixDue(ctx context.Context, sid string, x any) error {
	n, ok := x.(int64)
	if !ok || n <= 0 {
		return s.rdb.ZRem(ctx, s.dueKey(sid), sid).Err()
	}
	p := s.rdb.Pipeline()
	s.markDue(ctx, p, sid, n)
	_, err := p.Exec(ctx)
	return err
}

func decodeSession(sid string, payload any) (storage.BrowserSession, error) {
	p, _ := payload.(string)
	var w sessWire
	if err := json.Unmarshal([]byte(p), &w); err != nil || w.Sub == "" {
		return storage.BrowserSession{}, storage.ErrNotFound
	}
	return storage.BrowserSession{
		ID: sid, Subject: w.Sub, Username: w.User, AuthTime: time.Unix(w.Auth, 0).UTC(),
		Created: msTime(w.Created), End: msTime(w.End), Device: w.Device, IP: w.IP,
	}, nil
}

// sessionGrantMember encodes g as a member of a session's grant set.
func sessionGrantMember(g storage.SessionGrant) string {
	f := "0"
	if g.Offline {
		f = "1"
	}
	return f + g.Grant + " " + g.Client
}

func decodeSessionGrants(ms []string) []storage.SessionGrant {
	out := make([]storage.SessionGrant, 0, len(ms))
	for _, m := range ms {
		if len(m) < 2 {
			continue
		}
		grant, client, _ := strings.Cut(m[1:], " ")
		out = append(out, storage.SessionGrant{Grant: grant, Client: client, Offline: m[0] == '1'})
	}
	return out
}

var addSessionGrant = redis.NewScript(`
local x = redis.call('HGET', KEYS[1], 'x')
local t = redis.call('PEXPIRETIME', KEYS[1])
if not x or tonumber(x) <= tonumber(ARGV[2]) or t < 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIREAT', KEYS[2], t)
return 1
`)

// AddSessionGrant records that g was authorized through session sid; the
// record ends with the session. storage.ErrNotFound when the session is gone.
func (s *Store) AddSessionGrant(ctx context.Context, sid string, g storage.SessionGrant) error {
	keys := []string{s.sessKey(sid), s.sessGrants(sid)}
	n, err := addSessionGrant.Run(ctx, s.rdb, keys, sessionGrantMember(g), time.Now().UnixMilli()).Int()
	if err != nil {
		return wrap("add session grant", err)
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// ListSessions returns the live sessions of sub, with their grants: two
// round trips (the index, then every session's hash and grant set).
func (s *Store) ListSessions(ctx context.Context, sub string, now time.Time) ([]storage.BrowserSession, error) {
	sids, err := s.SessionIDs(ctx, sub, now)
	if err != nil || len(sids) == 0 {
		return nil, err
	}
	hs := make([]*redis.SliceCmd, len(sids))
	gs := make([]*redis.StringSliceCmd, len(sids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sid := range sids {
			hs[i] = p.HMGet(ctx, s.sessKey(sid), "p", "ck", "ls", "x")
			gs[i] = p.SMembers(ctx, s.sessGrants(sid))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("list sessions", err)
	}
	out := make([]storage.BrowserSession, 0, len(sids))
	for i, sid := range sids {
		b, err := sessionFromHash(sid, hs[i].Val())
		if err != nil || b.Subject != sub || !b.Expires.After(now) {
			continue // ended since the index was read
		}
		b.Grants = decodeSessionGrants(gs[i].Val())
		out = append(out, b)
	}
	return out, nil
}

// sessionFromHash decodes HMGET p ck ls x of a session.
func sessionFromHash(sid string, v []any) (storage.BrowserSession, error) {
	if len(v) != 4 {
		return storage.BrowserSession{}, storage.ErrNotFound
	}
	b, err := decodeSession(sid, v[0])
	if err != nil {
		return b, err
	}
	b.CookieHash, _ = v[1].(string)
	ls, _ := v[2].(string)
	x, _ := v[3].(string)
	n, _ := strconv.ParseInt(ls, 10, 64)
	m, _ := strconv.ParseInt(x, 10, 64)
	b.LastSeen, b.Expires = msTime(n), msTime(m)
	return b, nil
}

var deleteSession = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'p', 'ck', 'ls', 'x')
if not v[1] then return false end
if ARGV[1] ~= '' and tonumber(v[4] or 0) > tonumber(ARGV[1]) then return tonumber(v[4]) end
local g = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
return {v[1], v[2] or '', v[3] or '', v[4] or '', g}
`)

// DeleteSession deletes session sid, its cookie, its grant record, its
// index entry and its due entry, and returns what it was
// (storage.ErrNotFound when there is none): two round trips. When the
// second fails the session is gone already: it is returned with the error.
func (s *Store) DeleteSession(ctx context.Context, sid string, now time.Time) (storage.BrowserSession, error) {
	return s.deleteSession(ctx, sid, now, "")
}

// DeleteExpiredSession is DeleteSession for a session whose x is not after
// now (the expiry sweep). It returns storage.ErrNotFound, and sets the due
// entry right, when the session is gone or still live.
func (s *Store) DeleteExpiredSession(ctx context.Context, sid string, now time.Time) (storage.BrowserSession, error) {
	return s.deleteSession(ctx, sid, now, strconv.FormatInt(now.UnixMilli(), 10))
}

func (s *Store) deleteSession(ctx context.Context, sid string, now time.Time, cutoff string) (storage.BrowserSession, error) {
	v, err := deleteSession.Run(ctx, s.rdb, []string{s.sessKey(sid), s.sessGrants(sid)}, cutoff).Result()
	if errors.Is(err, redis.Nil) {
		return storage.BrowserSession{}, notFoundAfter(s.fixDue(ctx, sid, nil))
	} else if err != nil {
		return storage.BrowserSession{}, wrap("delete session", err)
	}
	if x, live := v.(int64); live { // not expired: due at its x
		return storage.BrowserSession{}, notFoundAfter(s.fixDue(ctx, sid, x))
	}
	b, err := deletedSession(sid, v)
	if err != nil {
		return b, err
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Unlink(ctx, s.cookieKey(b.CookieHash))
		sessionIndex.Eval(ctx, p, []string{s.userIndex(b.Subject)}, now.UnixMilli(), "del", sid, 0)
		p.ZRem(ctx, s.dueKey(sid), sid)
		return nil
	})
	return b, wrap("delete session", err)
}

// notFoundAfter is storage.ErrNotFound, joined with err from fixing the
// due index.
func notFoundAfter(err error) error {
	if err == nil {
		return storage.ErrNotFound
	}
	return errors.Join(storage.ErrNotFound, wrap("delete session", err))
}

// deletedSession decodes what deleteSession returned.
func deletedSession(sid string, res any) (storage.BrowserSession, error) {
	v, _ := res.([]any)
	if len(v) != 5 {
		return storage.BrowserSession{}, storage.ErrNotFound
	}
	b, err := sessionFromHash(sid, v[:4])
	if err != nil {
		return b, err
	}
	members, _ := v[4].([]any)
	ms := make([]string, 0, len(members))
	for _, m := range members {
		if str, ok := m.(string); ok {
			ms = append(ms, str)
		}
	}
	b.Grants = decodeSessionGrants(ms)
	return b, nil
}

// DueSessions returns up to perShard ids from each due-index shard whose x
// is not after now, and whether some shard had more: one round trip.
func (s *Store) DueSessions(ctx context.Context, now time.Time, perShard int) (sids []string, more bool, err error) {
	cmds := make([]*redis.StringSliceCmd, dueShards)
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range cmds {
			cmds[i] = p.ZRangeByScore(ctx, s.dueShard(i), &redis.ZRangeBy{
				Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(perShard),
			})
		}
		return nil
	})
	if err != nil {
		return nil, false, wrap("due sessions", err)
	}
	for _, c := range cmds {
		ids := c.Val()
		more = more || len(ids) >= perShard
		sids = append(sids, ids...)
	}
	return sids, more, nil
}

// SessionIDs returns the ids in sub's session index (live or not yet
// pruned): one round trip.
func (s *Store) SessionIDs(ctx context.Context, sub string, now time.Time) ([]string, error) {
	sids, err := sessionIndex.Run(ctx, s.rdb, []string{s.userIndex(sub)}, now.UnixMilli(), "read", "", 0).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return sids, wrap("session ids", err)
}
