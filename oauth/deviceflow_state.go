package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/token"
)

// The device flow's state (RFC 8628): device codes, user codes and the
// approving user's session, kept in Redis by redisstore. A device code is a
// token of kind "dc" (package token), minted for a new grant id: that id
// becomes the fosite request id of the tokens the code is redeemed for, so
// all of the grant's keys share one Redis hash tag. Only the code's MAC is
// stored.

// DeviceStates keeps device authorizations (redisstore.Store).
type DeviceStates interface {
	CreateDevice(ctx context.Context, d redisstore.NewDevice) error
	DeviceByUserCode(ctx context.Context, code string) (redisstore.Device, error)
	ApproveDevice(ctx context.Context, grant, userCode string, payload []byte) error
	DenyDevice(ctx context.Context, grant, userCode string) error
	PollDevice(ctx context.Context, grant, mac, clientID string, now time.Time) (redisstore.DevicePoll, error)
	RedeemDevice(ctx context.Context, grant, mac string) error
}

// deviceStore is the device flow's view of DeviceStates: signatures in,
// sessions decoded, misses as fosite.ErrNotFound.
type deviceStore struct{ states DeviceStates }

// deviceErr: unknown or expired is fosite.ErrNotFound; a lost
// compare-and-set (storage.ErrStale) and every other error stay as they are.
func deviceErr(err error) error {
	if errors.Is(err, redisstore.ErrNotFound) || errors.Is(err, storage.ErrNotFound) {
		return fosite.ErrNotFound.WithWrap(err)
	}
	return err
}

// DeviceRequest is a device authorization to store.
type DeviceRequest struct {
	Signature string // of the device code
	ClientID  string
	Scopes    []string
	Resources []string // RFC 8707
	UserCode  string   // normalised
	Interval  time.Duration
	TTL       time.Duration
}

// CreateDeviceRequest stores a pending device authorization. It returns
// redisstore.ErrUserCodeTaken when the user code is in use (the caller picks another).
func (s deviceStore) CreateDeviceRequest(ctx context.Context, d DeviceRequest) error {
	sg, ok := token.ParseSignature(d.Signature)
	if !ok {
		return errors.New("oauth: bad device code signature")
	}
	return s.states.CreateDevice(ctx, redisstore.NewDevice{
		Grant: sg.Grant, MAC: sg.MAC, ClientID: d.ClientID, Scopes: d.Scopes, Resources: d.Resources,
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
func (s deviceStore) DeviceByUserCode(ctx context.Context, userCode string) (PendingDevice, error) {
	d, err := s.states.DeviceByUserCode(ctx, userCode)
	if err != nil {
		return PendingDevice{}, deviceErr(err)
	}
	return PendingDevice{ClientID: d.ClientID, Scopes: d.Scopes, State: d.State}, nil
}

// ApproveDevice approves the pending authorization with this user code on
// behalf of the user in session. fosite.ErrNotFound when unknown or expired,
// storage.ErrStale (wrapped) when already approved or denied.
func (s deviceStore) ApproveDevice(ctx context.Context, userCode string, session fosite.Session) error {
	d, err := s.states.DeviceByUserCode(ctx, userCode)
	if err != nil {
		return deviceErr(err)
	}
	b, err := json.Marshal(session)
	if err != nil {
		return fmt.Errorf("oauth: encode session: %w", err)
	}
	return deviceErr(s.states.ApproveDevice(ctx, d.Grant, userCode, b))
}

// DenyDevice denies the pending authorization with this user code (errors as
// ApproveDevice).
func (s deviceStore) DenyDevice(ctx context.Context, userCode string) error {
	d, err := s.states.DeviceByUserCode(ctx, userCode)
	if err != nil {
		return deviceErr(err)
	}
	return deviceErr(s.states.DenyDevice(ctx, d.Grant, userCode))
}

// DevicePoll is what polling a device code found.
type DevicePoll struct {
	State    string // redisstore.Device* constants
	Interval time.Duration
	Scopes   []string
	// Resources are the requested resource indicators (RFC 8707).
	Resources []string
	// Session is the approving user's session (approved state only).
	Session fosite.Session
}

// PollDevice records a poll of the device code with this signature by
// clientID. fosite.ErrNotFound when the code is unknown or expired (its MAC
// was checked by the caller, so it was ours: it expired), redisstore.ErrWrongClient
// when another client polls it.
func (s deviceStore) PollDevice(ctx context.Context, signature, clientID string) (DevicePoll, error) {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return DevicePoll{}, fosite.ErrNotFound
	}
	p, err := s.states.PollDevice(ctx, sg.Grant, sg.MAC, clientID, time.Now())
	if err != nil {
		if errors.Is(err, redisstore.ErrWrongClient) {
			return DevicePoll{}, err
		}
		return DevicePoll{}, deviceErr(err)
	}
	out := DevicePoll{State: p.State, Interval: p.Interval, Scopes: p.Scopes, Resources: p.Resources}
	if p.State == redisstore.DeviceApproved {
		sess := NewSession()
		if err := json.Unmarshal(p.Payload, sess); err != nil {
			return DevicePoll{}, fmt.Errorf("oauth: corrupt device session: %w", err)
		}
		out.Session = sess
	}
	return out, nil
}

// RedeemDevice marks an approved device code redeemed. Exactly one of
// several concurrent callers succeeds; the others get storage.ErrStale
// (wrapped in fosite.ErrSerializationFailure).
func (s deviceStore) RedeemDevice(ctx context.Context, signature string) error {
	sg, ok := token.ParseSignature(signature)
	if !ok {
		return fosite.ErrNotFound
	}
	return deviceErr(s.states.RedeemDevice(ctx, sg.Grant, sg.MAC))
}
