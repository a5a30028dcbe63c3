package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
)

// ErrNotFound is returned by Store for a token that does not exist, has
// expired or whose MAC does not match. It is not storage.ErrNotFound (a
// missing record): fositestore maps both to fosite.ErrNotFound. A lost
// compare-and-set is storage.ErrStale, a write to a revoked grant
// storage.ErrRevoked, and a Redis that cannot answer now
// storage.ErrUnavailable (errors.go).
var ErrNotFound = errors.New("redisstore: not found")

// Store is the Redis half of authd's storage.
type Store struct {
	rdb redis.UniversalClient
	// reads serves the idempotent single-key reads of the hot paths
	// (introspection's GET, refresh's HMGET): rdb, or go-redis's
	// autopipeliner over it (AutoPipelineReads).
	reads  redis.UniversalClient
	prefix string
	// stuckAfter: a rotation begun this long ago and never completed (its
	// writer died between Rotate and CreateRefresh, e.g. Redis failed in
	// between) may be resumed with the token it was rotating away.
	stuckAfter time.Duration
}

// DefaultStuckRotation is how long a rotation may stay incomplete before
// the token it was rotating away may resume it.
const DefaultStuckRotation = 10 * time.Second

// SetStuckRotation changes DefaultStuckRotation (tests shorten it).
func (s *Store) SetStuckRotation(d time.Duration) { s.stuckAfter = d }

// New returns a Store whose keys all start with prefix (tests use one prefix
// each; production uses "authd:").
func New(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, reads: rdb, prefix: prefix, stuckAfter: DefaultStuckRotation}
}

// AutoPipelineReads sends the hot paths' reads (the access-token GET of
// every introspection and bearer call, the family HMGET of every refresh)
// through go-redis's autopipeliner: reads that concurrent requests issue at
// the same moment leave in one pipeline, one write and one read system call
// per batch instead of per request, on both sides of the connection. At low
// concurrency a batch is one command and nothing changes. Writes and the
// compare-and-set scripts stay on the plain client: the autopipeliner
// retries a whole batch after a dropped connection, harmless for a read and
// wrong for a script that may already have run. The autopipeliner is closed
// with the client.
func (s *Store) AutoPipelineReads() error {
	ap, err := s.rdb.AutoPipeline()
	if err != nil {
		return fmt.Errorf("redisstore: autopipeline: %w", err)
	}
	s.reads = ap
	return nil
}

// Client exposes the underlying client for health checks.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Key returns the Redis key for part ("c", "pk", "oi", "at", "f") of grant.
func (s *Store) Key(grant, part string) string {
	return s.prefix + "{" + grant + "}:" + part
}

func ms(ttl time.Duration) int64 {
	if ttl < time.Millisecond {
		return 1
	}
	return ttl.Milliseconds()
}

// ---------------------------------------------------------------------------
// Authorization codes

// CodeState is where an authorization code is in its single use.
type CodeState int

const (
	CodeFresh      CodeState = 0
	CodeExchanged  CodeState = 1
	CodeExchanging CodeState = 2
)

// CreateCode stores a new authorization code.
func (s *Store) CreateCode(ctx context.Context, grant, mac string, payload []byte, ttl time.Duration) error {
	k := s.Key(grant, "c")
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, "m", mac, "p", payload, "s", "0")
		p.PExpire(ctx, k, ttl)
		return nil
	})
	return wrap("create code", err)
}

// GetCode returns a code's payload and state. ErrNotFound when absent, expired
// or the MAC differs.
func (s *Store) GetCode(ctx context.Context, grant, mac string) ([]byte, CodeState, error) {
	v, err := s.rdb.HMGet(ctx, s.Key(grant, "c"), "m", "p", "s").Result()
	if err != nil {
		return nil, 0, wrap("get code", err)
	}
	m, _ := v[0].(string)
	p, _ := v[1].(string)
	st, _ := v[2].(string)
	if m == "" || m != mac {
		return nil, 0, ErrNotFound
	}
	n, _ := strconv.Atoi(st)
	return []byte(p), CodeState(n), nil
}

var beginExchange = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'm', 's')
if not v[1] or v[1] ~= ARGV[1] then return 'missing' end
if v[2] ~= '0' then return 'used' end
redis.call('HSET', KEYS[1], 's', '2')
return 'ok'`)

// BeginCodeExchange atomically moves a fresh code to "being exchanged".
// Exactly one caller succeeds; the others get storage.ErrStale (or ErrNotFound).
func (s *Store) BeginCodeExchange(ctx context.Context, grant, mac string) error {
	r, err := beginExchange.Run(ctx, s.rdb, []string{s.Key(grant, "c")}, mac).Text()
	if err != nil {
		return wrap("begin code exchange", err)
	}
	switch r {
	case "ok":
		return nil
	case "missing":
		return ErrNotFound
	default:
		return storage.ErrStale
	}
}

// ---------------------------------------------------------------------------
// PKCE and OpenID Connect request sessions (keyed by the code's grant)

// PutAux stores an auxiliary request payload (kind "pk" or "oi").
func (s *Store) PutAux(ctx context.Context, grant, kind string, payload []byte, ttl time.Duration) error {
	return wrap("put "+kind, s.rdb.Set(ctx, s.Key(grant, kind), payload, ttl).Err())
}

// GetAux returns an auxiliary payload or ErrNotFound.
func (s *Store) GetAux(ctx context.Context, grant, kind string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, s.Key(grant, kind)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return b, wrap("get "+kind, err)
}

// DeleteAux removes an auxiliary payload; absent is not an error.
func (s *Store) DeleteAux(ctx context.Context, grant, kind string) error {
	return wrap("delete "+kind, s.rdb.Unlink(ctx, s.Key(grant, kind)).Err())
}

// ---------------------------------------------------------------------------
// Access tokens

// Birth describes the family created together with a grant's first access
// token (authorization code or device code exchange).
type Birth struct {
	// FamilyTTL is how long the family lives: until the refresh token's end,
	// or the access token's end when no refresh token is issued.
	FamilyTTL time.Duration
	// CodeDone marks the grant's authorization code as exchanged (used when
	// no refresh token follows; otherwise CreateRefresh does it).
	CodeDone bool
}

var createAccess = redis.NewScript(`
local f, at, c = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', f, 'r') == '1' then return 'revoked' end
if ARGV[4] == '1' then
  if redis.call('EXISTS', f) == 0 then
    redis.call('HSET', f, 'g', '0', 'm', '', 'u', '1')
  end
  redis.call('PEXPIRE', f, ARGV[5])
end
redis.call('SET', at, ARGV[1], 'PX', ARGV[2])
if ARGV[3] == '1' and redis.call('EXISTS', c) == 1 then
  redis.call('HSET', c, 's', '1')
  redis.call('HDEL', c, 'p')
end
return 'ok'`)

// CreateAccess stores the grant's access token, replacing any previous one.
// birth is non-nil for the first token of a user's grant. storage.ErrRevoked when
// the grant was revoked meanwhile.
func (s *Store) CreateAccess(ctx context.Context, grant, mac string, payload []byte, ttl time.Duration, birth *Birth) error {
	val := make([]byte, 0, len(mac)+1+len(payload))
	val = append(append(append(val, mac...), '|'), payload...)
	isBirth, famTTL, done := "0", int64(0), "0"
	if birth != nil {
		isBirth, famTTL = "1", ms(birth.FamilyTTL)
		if birth.CodeDone {
			done = "1"
		}
	}
	r, err := createAccess.Run(ctx, s.rdb,
		[]string{s.Key(grant, "f"), s.Key(grant, "at"), s.Key(grant, "c")},
		val, ms(ttl), done, isBirth, famTTL).Text()
	if err != nil {
		return wrap("create access", err)
	}
	if r == "revoked" {
		return storage.ErrRevoked
	}
	return nil
}

// GetAccess returns the payload of the grant's access token with this MAC.
// One GET: this is the introspection hot path.
func (s *Store) GetAccess(ctx context.Context, grant, mac string) ([]byte, error) {
	b, err := s.reads.Get(ctx, s.Key(grant, "at")).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, wrap("get access", err)
	}
	if len(b) <= len(mac) || b[len(mac)] != '|' || string(b[:len(mac)]) != mac {
		return nil, ErrNotFound
	}
	return b[len(mac)+1:], nil
}

// DeleteAccess removes the grant's access token; absent is not an error.
func (s *Store) DeleteAccess(ctx context.Context, grant string) error {
	return wrap("delete access", s.rdb.Unlink(ctx, s.Key(grant, "at")).Err())
}

// ---------------------------------------------------------------------------
// Refresh token families

// RefreshState says what a presented refresh token is.
type RefreshState int

const (
	// RefreshActive: the token is the family's live refresh token.
	RefreshActive RefreshState = iota
	// RefreshRotated: the token belonged to this family but was already
	// rotated away: presenting it again is reuse.
	RefreshRotated
	// RefreshRetry: the token was rotated away moments ago (within the
	// retry window): a retry, neither served by fosite nor reuse.
	RefreshRetry
)

var createRefresh = redis.NewScript(`
local f, c = KEYS[1], KEYS[2]
local v = redis.call('HMGET', f, 'g', 'm', 'r')
if v[3] == '1' then return 'revoked' end
if not v[1] then return 'missing' end
if v[1] ~= ARGV[1] or v[2] ~= '' then return 'stale' end
redis.call('HSET', f, 'm', ARGV[2], 'p', ARGV[3])
redis.call('HDEL', f, 'pm')
redis.call('PEXPIRE', f, ARGV[4])
if ARGV[5] == '1' and redis.call('EXISTS', c) == 1 then
  redis.call('HSET', c, 's', '1')
  redis.call('HDEL', c, 'p')
end
return 'ok'`)

// CreateRefresh installs the refresh token of generation gen into the
// family. The family must exist (born with CreateAccess, or rotated with
// Rotate to generation gen) and have no live refresh token. codeDone marks
// the grant's authorization code as exchanged.
func (s *Store) CreateRefresh(ctx context.Context, grant string, gen uint64, mac string, payload []byte, ttl time.Duration, codeDone bool) error {
	done := "0"
	if codeDone {
		done = "1"
	}
	r, err := createRefresh.Run(ctx, s.rdb, []string{s.Key(grant, "f"), s.Key(grant, "c")},
		gen, mac, payload, ms(ttl), done).Text()
	if err != nil {
		return wrap("create refresh", err)
	}
	return scriptResult(r)
}

// GetRefresh looks up a refresh token of generation gen with this MAC. It
// returns RefreshActive with the payload for the live token, RefreshRotated
// for an older generation of a live family (reuse), RefreshRetry for the
// generation rotated away less than retryWindow ago (a client retrying a
// refresh whose response it lost; 0 disables this), and ErrNotFound for
// anything else (unknown, expired, revoked, or a rotation in flight). begun,
// when not zero, is when the asking request began: a generation that
// RotateRefresh rotated away after that moment was rotated by a request
// running concurrently with this one, which then loses without being taken
// for reuse (ErrNotFound), as it would while the rotation is in flight.
func (s *Store) GetRefresh(ctx context.Context, grant string, gen uint64, mac string, retryWindow time.Duration, begun time.Time) ([]byte, RefreshState, error) {
	v, err := s.reads.HMGet(ctx, s.Key(grant, "f"), "g", "m", "p", "r", "ra", "pm", "ru").Result()
	if err != nil {
		return nil, 0, wrap("get refresh", err)
	}
	gs, _ := v[0].(string)
	m, _ := v[1].(string)
	p, _ := v[2].(string)
	r, _ := v[3].(string)
	ra, _ := v[4].(string)
	pm, _ := v[5].(string)
	ru, _ := v[6].(string)
	if gs == "" || r == "1" {
		return nil, 0, ErrNotFound
	}
	cur, err := strconv.ParseUint(gs, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: corrupt generation %q: %w", gs, err)
	}
	switch {
	case gen == cur && m != "" && m == mac:
		return []byte(p), RefreshActive, nil
	case gen+1 == cur && m == "":
		// The rotation of this very token is in flight: a concurrent
		// duplicate, which loses the race without revoking the family;
		// unless that rotation never completed (stuck): then this token is
		// still the grant's only refresh token and may resume it.
		if pm != "" && pm == mac && ra != "" {
			at, _ := strconv.ParseInt(ra, 10, 64)
			if time.Since(time.UnixMilli(at)) > s.stuckAfter {
				return []byte(p), RefreshActive, nil
			}
		}
		return nil, 0, ErrNotFound
	case gen+1 == cur && !begun.IsZero() && ru != "" && begun.UnixMicro() < rotatedAtMicro(ru):
		return nil, 0, ErrNotFound
	case gen+1 == cur && retryWindow > 0 && ra != "":
		at, _ := strconv.ParseInt(ra, 10, 64)
		if time.Since(time.UnixMilli(at)) < retryWindow {
			return nil, RefreshRetry, nil
		}
		return nil, RefreshRotated, nil
	case gen < cur:
		return nil, RefreshRotated, nil
	}
	return nil, 0, ErrNotFound
}

// rotatedAtMicro parses a family's ru field (Unix µs; 0 when unreadable).
func rotatedAtMicro(ru string) int64 {
	at, _ := strconv.ParseInt(ru, 10, 64)
	return at
}

var rotate = redis.NewScript(`
local f, at = KEYS[1], KEYS[2]
local v = redis.call('HMGET', f, 'g', 'm', 'r', 'pm', 'ra')
if v[3] == '1' then return 'revoked' end
if not v[1] then return 'missing' end
if v[1] == ARGV[1] and v[2] == ARGV[2] and v[2] ~= '' then
  redis.call('HSET', f, 'g', tostring(tonumber(v[1]) + 1), 'm', '', 'pm', ARGV[2], 'ra', ARGV[3])
  redis.call('UNLINK', at, KEYS[3])
  return 'ok'
end
-- Resume a rotation of this very token that never completed.
if tostring(tonumber(v[1]) - 1) == ARGV[1] and v[2] == '' and v[4] == ARGV[2] and v[5]
   and tonumber(ARGV[3]) - tonumber(v[5]) > tonumber(ARGV[4]) then
  redis.call('HSET', f, 'ra', ARGV[3])
  redis.call('UNLINK', at, KEYS[3])
  return 'ok'
end
return 'stale'`)

// Rotate retires the live refresh token (gen, mac) and the grant's access
// token in one step, leaving the family waiting for generation gen+1.
// Exactly one of several concurrent callers succeeds; the others get storage.ErrStale.
// A rotation that was begun more than the stuck-rotation time ago and never
// completed is resumed by the same token (one caller wins that too).
func (s *Store) Rotate(ctx context.Context, grant string, gen uint64, mac string) error {
	r, err := rotate.Run(ctx, s.rdb, []string{s.Key(grant, "f"), s.Key(grant, "at"), s.Key(grant, "rs")}, gen, mac, time.Now().UnixMilli(), s.stuckAfter.Milliseconds()).Text()
	if err != nil {
		return wrap("rotate", err)
	}
	return scriptResult(r)
}

var revokeFamily = redis.NewScript(`
local f, at, c = KEYS[1], KEYS[2], KEYS[3]
local n = redis.call('UNLINK', at, KEYS[4])
local u = redis.call('HGET', f, 'u')
local was = redis.call('HGET', f, 'r')
if redis.call('EXISTS', f) == 1 then
  redis.call('HDEL', f, 'm', 'p')
  redis.call('HSET', f, 'r', '1')
else
  redis.call('HSET', f, 'r', '1')
  redis.call('PEXPIRE', f, ARGV[1])
end
if was == '1' then return 'ok' end
if u == '1' then return 'user' end
if n > 0 then return 'token' end
return 'ok'`)

// Ended is what a RevokeFamily call ended.
type Ended int

const (
	// EndedNothing: nothing was live (unknown, expired or already revoked).
	EndedNothing Ended = iota
	// EndedToken: a live access token without a family (client_credentials).
	EndedToken
	// EndedGrant: a user's live grant (its family).
	EndedGrant
)

// RevokeFamily deletes the grant's access and refresh tokens and leaves a
// tombstone, so no request racing the revocation can write new tokens to the
// grant. A tombstone for a grant that has no family yet lives tombstoneTTL.
// It reports what this call ended: a live user grant, a client's token, or
// nothing (a grant already revoked, expired or unknown).
func (s *Store) RevokeFamily(ctx context.Context, grant string, tombstoneTTL time.Duration) (Ended, error) {
	r, err := revokeFamily.Run(ctx, s.rdb,
		[]string{s.Key(grant, "f"), s.Key(grant, "at"), s.Key(grant, "c"), s.Key(grant, "rs")}, ms(tombstoneTTL)).Text()
	if err != nil {
		return EndedNothing, wrap("revoke family", err)
	}
	switch r {
	case "user":
		return EndedGrant, nil
	case "token":
		return EndedToken, nil
	}
	return EndedNothing, nil
}

// FamiliesLive reports, for each grant, whether its family is still live in
// Redis (present and not revoked). One round trip.
func (s *Store) FamiliesLive(ctx context.Context, grants []string) ([]bool, error) {
	cmds := make([]*redis.SliceCmd, len(grants))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, g := range grants {
			cmds[i] = p.HMGet(ctx, s.Key(g, "f"), "g", "r")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("families live", err)
	}
	out := make([]bool, len(grants))
	for i, c := range cmds {
		v := c.Val()
		if len(v) == 2 {
			g, _ := v[0].(string)
			r, _ := v[1].(string)
			out[i] = g != "" && r != "1"
		}
	}
	return out, nil
}

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error { return wrap("ping", s.rdb.Ping(ctx).Err()) }

// ---------------------------------------------------------------------------
// Refresh retry window: the response a refresh produced, kept (sealed by the
// caller) for a short window so a client that lost it can retry.

// PutSuccessor stores the sealed response of the refresh that rotated away
// the token (gen, mac) of grant, for ttl. It is dropped when the grant is
// revoked or rotated again.
func (s *Store) PutSuccessor(ctx context.Context, grant string, gen uint64, mac, clientID string, sealed []byte, ttl time.Duration) error {
	k := s.Key(grant, "rs")
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, "g", gen, "m", mac, "c", clientID, "b", sealed)
		p.PExpire(ctx, k, ttl)
		return nil
	})
	return wrap("put successor", err)
}

// GetSuccessor returns the sealed response stored for the token (gen, mac)
// of grant and the client it was issued to, or ErrNotFound.
func (s *Store) GetSuccessor(ctx context.Context, grant string, gen uint64, mac string) (clientID string, sealed []byte, err error) {
	v, err := s.rdb.HMGet(ctx, s.Key(grant, "rs"), "g", "m", "c", "b").Result()
	if err != nil {
		return "", nil, wrap("get successor", err)
	}
	g, _ := v[0].(string)
	m, _ := v[1].(string)
	c, _ := v[2].(string)
	b, _ := v[3].(string)
	if g == "" || g != strconv.FormatUint(gen, 10) || m == "" || m != mac {
		return "", nil, ErrNotFound
	}
	return c, []byte(b), nil
}

// ---------------------------------------------------------------------------
// Client assertion ids (RFC 7523 jti replay protection)

// jtiKey is client clientID's key for assertion id jti: RFC 7523 §3 asks
// for jti uniqueness per issuer, and one client's ids must not collide with
// (or be used to burn) another's. The length prefix keeps every (client,
// jti) pair distinct.
func (s *Store) jtiKey(clientID, jti string) string {
	h := sha256.Sum256([]byte(strconv.Itoa(len(clientID)) + ":" + clientID + ":" + jti))
	return s.prefix + "jti:" + base64.RawURLEncoding.EncodeToString(h[:])
}

// MarkOnce records the one-time id for ttl (at least 1 s). It returns
// false when id was already recorded: the second use of a one-time value
// (a carried authorization request). Only a hash of id is stored.
func (s *Store) MarkOnce(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	h := sha256.Sum256([]byte(id))
	ok, err := s.rdb.SetNX(ctx, s.prefix+"once:"+base64.RawURLEncoding.EncodeToString(h[:]), "1", max(ttl, time.Second)).Result()
	return ok, wrap("mark once", err)
}

// JTISeen reports whether client clientID already used an assertion id.
func (s *Store) JTISeen(ctx context.Context, clientID, jti string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.jtiKey(clientID, jti)).Result()
	return n > 0, wrap("jti seen", err)
}

// MarkJTI records client clientID's assertion id until exp. It returns
// false when the id was already recorded (a replay racing the first use).
func (s *Store) MarkJTI(ctx context.Context, clientID, jti string, exp time.Time) (bool, error) {
	ttl := time.Until(exp)
	if ttl < time.Second {
		ttl = time.Second
	}
	ok, err := s.rdb.SetNX(ctx, s.jtiKey(clientID, jti), "1", ttl).Result()
	return ok, wrap("mark jti", err)
}
