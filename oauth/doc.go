// Package oauth is authd's protocol area: it composes fosite with exactly
// the handlers authd supports (provider.go) and owns the protocol's routes
// (Mount in routes.go): the authorization endpoint and its sign-in and
// consent decisions (authorize.go), the token, revocation and introspection
// endpoints, UserInfo, discovery, JWKS and health. The RFC 8628 device flow
// is an area of its own here (DeviceFlow, deviceflow*.go), with its state in
// Redis behind the small DeviceStates interface. Every failure goes through
// one funnel (errors.go). Pages a person sees are rendered by package web;
// the form of every protocol request is parsed once (form.go) before the
// rate limiter and fosite read it.
package oauth
