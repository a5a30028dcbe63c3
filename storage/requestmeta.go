package storage

import "context"

// RequestMeta is what the HTTP layer knows about the caller of a request
// that may give birth to a grant: its address and User-Agent, recorded on
// the grant (Grant.FirstIP, Grant.UserAgent).
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
