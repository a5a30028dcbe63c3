package storage

import "context"

// RequestMeta is what the HTTP layer knows about the caller of a request:
// its address and User-Agent. A grant records the device that authorized
// it (Grant.FirstIP, Grant.UserAgent: the browser at the authorization or
// consent step, or on the device-verification page), and its refreshes
// record where it was last used (Grant.LastIP).
type RequestMeta struct {
	IP, UserAgent string
}

type metaKey struct{}

// WithRequestMeta returns ctx carrying m.
func WithRequestMeta(ctx context.Context, m RequestMeta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// RequestMetaFrom returns the RequestMeta in ctx (zero when there is none).
func RequestMetaFrom(ctx context.Context) RequestMeta {
	m, _ := ctx.Value(metaKey{}).(RequestMeta)
	return m
}

// DeviceCarrier is a session (oauth.Session) that carries the device that
// authorized its grant, from the authorization (the code's or the device
// code's stored session) to the grant's birth at the first token.
type DeviceCarrier interface {
	// TakeDevice returns the authorizing device and removes it from the
	// session, so the grant's tokens do not carry it; ok is false when the
	// session carries none (a code issued before devices were carried).
	TakeDevice() (d RequestMeta, ok bool)
}
