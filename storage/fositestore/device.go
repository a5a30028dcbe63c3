package fositestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/ory/fosite"

	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/token"
)

// Device authorization grant (RFC 8628): device codes and their state.
//
// A device code is a token of kind "dc" (package token), minted for a new
// grant id: that id becomes the fosite request id of the tokens the code is
// redeemed for, so all of the grant's keys share one Redis hash tag. Only the
// code's MAC is stored.

// Device authorization states (see redisstore).
const (
	DevicePending  = redisstore.DevicePending
	DeviceApproved = redisstore.DeviceApproved
	DeviceDenied   = redisstore.DeviceDenied
	DeviceRedeemed = redisstore.DeviceRedeemed
	DeviceSlowDown = redisstore.DeviceSlowDown
)

// Errors of the device methods, besides fosite.ErrNotFound (unknown or
// expired) and storage.ErrStale (already decided or redeemed).
var (
	ErrUserCodeTaken = redisstore.ErrUserCodeTaken
	ErrWrongClient   = redisstore.ErrWrongClient
)

// NewGrantID returns a fresh grant id (a UUID, as fosite's request ids are).
func NewGrantID() string { return uuid.NewString() }

// DeviceRequest is a device authorization to store.
type DeviceRequest struct {
	Signature string // of the device code
	ClientID  string
	Scopes    []string
	UserCode  string // normalised
	Interval  time.Duration
	TTL       time.Duration
}

// CreateDeviceRequest stores a pending device authorization. It returns
// ErrUserCodeTaken when the user code is in use (the caller picks another).
func (s *Store) CreateDeviceRequest(ctx context.Context, d DeviceRequest) error {
	sg, ok := token.ParseSignature(d.Signature)
	if !ok {
		return errors.New("fositestore: bad device code signature")
	}
	return s.redis.CreateDevice(ctx, redisstore.NewDevice{
		Grant: sg.Grant, MAC: sg.MAC, ClientID: d.ClientID, Scopes: d.Scopes,
		UserCode: d.UserCode, Interval: d.Interval, TTL: d.TTL,
	})
}

// PendingDevice is a device authorization found by its user code.
type PendingDevice struct {
	ClientID string
	Scopes   []string
	State    string
}

// DeviceByUserCode looks a normalised user code up; fosite.ErrNotFound when
// it is unknown or expired.
func (s *Store) DeviceByUserCode(ctx context.Context, userCode string) (PendingDevice, error) {
	d, err := s.redis.DeviceByUserCode(ctx, userCode)
	if err != nil {
		return PendingDevice{}, mapErr(err)
	}
	return PendingDevice{ClientID: d.ClientID, Scopes: d.Scopes, State: d.State}, nil
}

// ApproveDevice approves the pending authorization with this user code on
// behalf of the user in session. fosite.ErrNotFound when unknown or expired,
// storage.ErrStale (wrapped) when already approved or denied.
func (s *Store) ApproveDevice(ctx context.Context, userCode string, session fosite.Session) error {
	d, err := s.redis.DeviceByUserCode(ctx, userCode)
	if err != nil {
		return mapErr(err)
	}
	b, err := json.Marshal(session)
	if err != nil {
		return fmt.Errorf("fositestore: encode session: %w", err)
	}
	return mapErr(s.redis.ApproveDevice(ctx, d.Grant, userCode, b))
}

// DenyDevice denies the pending authorization with this user code (errors as
// ApproveDevice).
func (s *Store) DenyDevice(ctx context.Context, userCode string) error {
	d, err := s.redis.DeviceByUserCode(ctx, userCode)
	if err != nil {
		return mapErr(err)
	}
	return mapErr(s.redis.DenyDevice(ctx, d.Grant, userCode))
}

// DevicePoll is what polling a device code found.
type DevicePoll struct {
	State    string // Device* constants
	Interval time.Duration
	Scopes   []string
	// Session is the approving user's session (approved state only).
	Session fosite.Session
}

// PollDevice records a poll of the device code with this signature by
// clientID. fosite.ErrNotFound when the code is unknown or expired (its MAC
// was checked by the caller, so it was ours: it expired), ErrWrongClient
// when another client polls it.
func (s *Store) PollDevice(ctx context.Context, signature, clientID string) (DevicePoll, error) {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return DevicePoll{}, fosite.ErrNotFound
	}
	p, err := s.redis.PollDevice(ctx, sg.Grant, sg.MAC, clientID, s.now())
	if err != nil {
		if errors.Is(err, redisstore.ErrWrongClient) {
			return DevicePoll{}, err
		}
		return DevicePoll{}, mapErr(err)
	}
	out := DevicePoll{State: p.State, Interval: p.Interval, Scopes: p.Scopes}
	if p.State == DeviceApproved {
		sess := s.newSession()
		if err := json.Unmarshal(p.Payload, sess); err != nil {
			return DevicePoll{}, fmt.Errorf("fositestore: corrupt device session: %w", err)
		}
		out.Session = sess
	}
	return out, nil
}

// RedeemDevice marks an approved device code redeemed. Exactly one of
// several concurrent callers succeeds; the others get storage.ErrStale
// (wrapped in fosite.ErrSerializationFailure).
func (s *Store) RedeemDevice(ctx context.Context, signature string) error {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return fosite.ErrNotFound
	}
	return mapErr(s.redis.RedeemDevice(ctx, sg.Grant, sg.MAC))
}
