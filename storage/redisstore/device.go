package redisstore

// Device authorization state (RFC 8628). For prefix P and grant id G:
//
//	P{G}:dc     hash  m (mac of the device code), c (client id), s (requested
//	                  scopes, space separated), r (requested resources, RFC
//	                  8707, space separated), st (pending, approved, denied,
//	                  redeemed), u (normalised user code), p (session payload,
//	                  set on approval), lp (last poll, Unix ms), iv (polling
//	                  interval, seconds)
//	P:uc:<code> string the grant id a (normalised) user code belongs to
//
// Both live as long as the device code. Every transition is a compare-and-set
// on the dc hash, so approval, denial and redemption each happen at most once.
// The user code key has no hash tag (it is looked up before the grant is
// known); it is only ever touched on its own.

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Device authorization states.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
	DeviceRedeemed = "redeemed"
)

// ErrUserCodeTaken: CreateDevice found the user code in use; pick another.
var ErrUserCodeTaken = errors.New("redisstore: user code in use")

// NewDevice is a device authorization to store.
type NewDevice struct {
	Grant    string
	MAC      string
	ClientID string
	Scopes   []string
	// Resources are the requested resource indicators (RFC 8707).
	Resources []string
	UserCode  string // normalised
	Interval  time.Duration
	TTL       time.Duration
}

func (s *Store) userCodeKey(code string) string { return s.prefix + "uc:" + code }

// CreateDevice stores a pending device authorization. It claims the user
// code first (SET NX) and returns ErrUserCodeTaken if it is in use.
func (s *Store) CreateDevice(ctx context.Context, d NewDevice) error {
	ok, err := s.rdb.SetNX(ctx, s.userCodeKey(d.UserCode), d.Grant, d.TTL).Result()
	if err != nil {
		return wrap("claim user code", err)
	}
	if !ok {
		return ErrUserCodeTaken
	}
	k := s.Key(d.Grant, "dc")
	iv := int64(d.Interval / time.Second)
	if iv < 1 {
		iv = 1
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, "m", d.MAC, "c", d.ClientID, "s", strings.Join(d.Scopes, " "),
			"r", strings.Join(d.Resources, " "), "st", DevicePending, "u", d.UserCode, "iv", iv)
		p.PExpire(ctx, k, d.TTL)
		return nil
	})
	if err != nil {
		_ = s.rdb.Unlink(ctx, s.userCodeKey(d.UserCode)).Err()
		return wrap("create device", err)
	}
	return nil
}

// Device is a device authorization as the verification page sees it.
type Device struct {
	Grant    string
	ClientID string
	Scopes   []string
	State    string
}

// DeviceByUserCode returns the device authorization a normalised user code
// belongs to, or ErrNotFound (unknown or expired).
func (s *Store) DeviceByUserCode(ctx context.Context, code string) (Device, error) {
	g, err := s.rdb.Get(ctx, s.userCodeKey(code)).Result()
	if errors.Is(err, redis.Nil) {
		return Device{}, ErrNotFound
	} else if err != nil {
		return Device{}, wrap("get user code", err)
	}
	v, err := s.rdb.HMGet(ctx, s.Key(g, "dc"), "c", "s", "st", "u").Result()
	if err != nil {
		return Device{}, wrap("get device", err)
	}
	c, _ := v[0].(string)
	sc, _ := v[1].(string)
	st, _ := v[2].(string)
	u, _ := v[3].(string)
	if c == "" || u != code {
		return Device{}, ErrNotFound
	}
	return Device{Grant: g, ClientID: c, Scopes: strings.Fields(sc), State: st}, nil
}

var decideDevice = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'st', 'u')
if not v[1] or v[2] ~= ARGV[1] then return 'missing' end
if v[1] ~= 'pending' then return 'stale' end
if ARGV[2] == 'approved' then
  redis.call('HSET', KEYS[1], 'st', 'approved', 'p', ARGV[3])
else
  redis.call('HSET', KEYS[1], 'st', 'denied')
end
return 'ok'`)

// ApproveDevice moves the pending authorization of grant (identified by its
// user code too, so a stale lookup cannot approve another request) to
// approved, storing the user's session payload. storage.ErrStale if it was already
// decided, ErrNotFound if it expired.
func (s *Store) ApproveDevice(ctx context.Context, grant, userCode string, payload []byte) error {
	return s.decide(ctx, grant, userCode, DeviceApproved, payload)
}

// DenyDevice moves a pending authorization to denied (see ApproveDevice).
func (s *Store) DenyDevice(ctx context.Context, grant, userCode string) error {
	return s.decide(ctx, grant, userCode, DeviceDenied, nil)
}

func (s *Store) decide(ctx context.Context, grant, userCode, state string, payload []byte) error {
	r, err := decideDevice.Run(ctx, s.rdb, []string{s.Key(grant, "dc")}, userCode, state, payload).Text()
	if err != nil {
		return wrap("decide device", err)
	}
	return scriptResult(r)
}

// DevicePoll is what a poll of the token endpoint found.
type DevicePoll struct {
	// State is one of the Device* states, or "slow_down" when the device
	// polled faster than its interval while pending.
	State    string
	Interval time.Duration
	Scopes   []string
	// Resources are the requested resource indicators (RFC 8707).
	Resources []string
	// Payload is the session stored on approval (approved state only).
	Payload []byte
}

// DeviceSlowDown is DevicePoll.State for a pending poll that came too early.
const DeviceSlowDown = "slow_down"

var pollDevice = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'm', 'c', 'st', 'lp', 'iv', 's', 'p', 'r')
if not v[1] or v[1] ~= ARGV[1] then return {'missing'} end
if v[2] ~= ARGV[2] then return {'client'} end
local iv = tonumber(v[5]) or 5
if v[3] == 'pending' then
  local now = tonumber(ARGV[3])
  local lp = tonumber(v[4])
  if lp and now - lp < iv * 1000 then
    iv = iv + 5
    redis.call('HSET', KEYS[1], 'lp', ARGV[3], 'iv', tostring(iv))
    return {'slow_down', tostring(iv)}
  end
  redis.call('HSET', KEYS[1], 'lp', ARGV[3])
  return {'pending', tostring(iv)}
end
return {v[3], tostring(iv), v[6] or '', v[7] or '', v[8] or ''}`)

// ErrWrongClient: the device code was issued to another client.
var ErrWrongClient = errors.New("redisstore: device code issued to another client")

// PollDevice records a poll of the device code (grant, mac) by clientID at
// now and reports the authorization's state. While pending, a poll sooner
// than the interval after the previous one gets DeviceSlowDown and raises
// the interval by 5 seconds for good. ErrNotFound when the code is unknown
// or expired; ErrWrongClient when it belongs to another client.
func (s *Store) PollDevice(ctx context.Context, grant, mac, clientID string, now time.Time) (DevicePoll, error) {
	v, err := pollDevice.Run(ctx, s.rdb, []string{s.Key(grant, "dc")}, mac, clientID, now.UnixMilli()).StringSlice()
	if err != nil {
		return DevicePoll{}, wrap("poll device", err)
	}
	switch v[0] {
	case "missing":
		return DevicePoll{}, ErrNotFound
	case "client":
		return DevicePoll{}, ErrWrongClient
	}
	out := DevicePoll{State: v[0]}
	if len(v) > 1 {
		n, _ := strconv.Atoi(v[1])
		out.Interval = time.Duration(n) * time.Second
	}
	if len(v) > 3 {
		out.Scopes = strings.Fields(v[2])
		if v[3] != "" {
			out.Payload = []byte(v[3])
		}
	}
	if len(v) > 4 {
		out.Resources = strings.Fields(v[4])
	}
	return out, nil
}

var redeemDevice = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'm', 'st')
if not v[1] or v[1] ~= ARGV[1] then return 'missing' end
if v[2] ~= 'approved' then return 'stale' end
redis.call('HSET', KEYS[1], 'st', 'redeemed')
redis.call('HDEL', KEYS[1], 'p')
return 'ok'`)

// RedeemDevice moves an approved authorization to redeemed. Exactly one of
// several concurrent callers succeeds; the others get storage.ErrStale.
func (s *Store) RedeemDevice(ctx context.Context, grant, mac string) error {
	r, err := redeemDevice.Run(ctx, s.rdb, []string{s.Key(grant, "dc")}, mac).Text()
	if err != nil {
		return wrap("redeem device", err)
	}
	return scriptResult(r)
}
