package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v3"
)

// knownGrantTypes are the grant types authd serves.
var knownGrantTypes = []string{AuthorizationCodeGrantType, RefreshTokenGrantType, ClientCredentialsGrantType, DeviceCodeGrantType}

// InvalidClientError lists every problem of a client registration, in a
// fixed order. The problems name the flags of `authd clients create`
// (package clients words them with RFC 7591 metadata names for the HTTP
// APIs). Redirect is set when a redirect URI itself is malformed (RFC 7591
// invalid_redirect_uri rather than invalid_client_metadata).
type InvalidClientError struct {
	Problems []string
	Redirect bool
}

func (e *InvalidClientError) Error() string { return strings.Join(e.Problems, "; ") }

// Validate reports every problem with c as a client registration at once
// (an *InvalidClientError), or nil. It only reads c: callers normalise
// first (TokenEndpointAuthMethod may be "", client_secret_basic,
// client_secret_post or private_key_jwt; a secret, when there is one, is
// already hashed into SecretHash).
func (c *Client) Validate() error {
	redirects := c.redirectProblems()
	problems := append(c.grantProblems(), redirects...)
	problems = append(problems, c.authProblems()...)
	problems = append(problems, c.browserProblems()...)
	problems = append(problems, c.resourceProblems()...)
	if len(problems) > 0 {
		return &InvalidClientError{Problems: problems, Redirect: len(redirects) > 0}
	}
	return nil
}

// grantProblems checks the id, the grant types and whether they need
// redirect URIs.
func (c *Client) grantProblems() []string {
	var errs []string
	if c.ID == "" || len(c.ID) > 255 || strings.ContainsAny(c.ID, " \t\r\n:") {
		errs = append(errs, "--id is required (no spaces or colons, at most 255 characters)")
	}
	if len(c.GrantTypes) == 0 {
		errs = append(errs, "--grant-types is required (authorization_code, refresh_token, client_credentials, "+DeviceCodeGrantType+")")
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(knownGrantTypes, g) {
			errs = append(errs, fmt.Sprintf("unknown grant type %q", g))
		}
	}
	code := slices.Contains(c.GrantTypes, "authorization_code")
	if c.Public && len(c.SecretHash) > 0 {
		errs = append(errs, "--public and --secret exclude each other")
	}
	if c.Public && slices.Contains(c.GrantTypes, "client_credentials") {
		errs = append(errs, "a public client cannot use client_credentials")
	}
	if code && len(c.RedirectURIs) == 0 {
		errs = append(errs, "the authorization_code grant needs at least one --redirect-uri")
	}
	if !code && len(c.RedirectURIs) > 0 {
		errs = append(errs, "--redirect-uri is only meaningful with the authorization_code grant")
	}
	if slices.Contains(c.GrantTypes, "refresh_token") && !code && !slices.Contains(c.GrantTypes, DeviceCodeGrantType) {
		errs = append(errs, "refresh_token needs a grant that issues refresh tokens (authorization_code or "+DeviceCodeGrantType+")")
	}
	return errs
}

// redirectProblems checks each redirect URI (goodRedirect).
func (c *Client) redirectProblems() []string {
	var errs []string
	for _, u := range c.RedirectURIs {
		if !goodRedirect(u, c.Public) {
			errs = append(errs, fmt.Sprintf("redirect URI %q %s", u, redirectRule))
		}
	}
	return errs
}

const redirectRule = "must be absolute, without fragment, and https unless on loopback " +
	"(a private-use scheme such as com.example.app:/cb only for a --public native app)"

// goodRedirect: an exact absolute URI (matched as registered: no wildcard,
// no user info) without fragment; https, or http on loopback (RFC 8252
// §7.3), or, for a public client (a native app), a private-use scheme
// (RFC 8252 §7.1) other than those that run code or read files.
func goodRedirect(u string, public bool) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Fragment != "" || strings.Contains(u, "#") || p.User != nil || strings.Contains(p.Host, "*") {
		return false
	}
	switch scheme := strings.ToLower(p.Scheme); scheme {
	case "https":
		return p.Host != ""
	case "http":
		return loopback(p.Hostname())
	case "javascript", "data", "file", "vbscript", "blob", "about", "ws", "wss", "ftp":
		return false
	default:
		return public && strings.Contains(scheme, ".")
	}
}

// goodLogoutURI: an absolute http(s) URL without fragment, https unless on
// loopback (Back-Channel Logout 1.0 §2.2, Front-Channel Logout 1.0 §2).
func goodLogoutURI(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Host != "" && p.Fragment == "" && (p.Scheme == "https" || p.Scheme == "http" && loopback(p.Hostname()))
}

// browserProblems checks the post-logout redirect URIs (the rules of
// redirect URIs) and the CORS origins (scheme://host[:port], https unless
// on loopback).
func (c *Client) browserProblems() []string {
	var errs []string
	if len(c.PostLogoutRedirectURIs) > 0 && !slices.Contains(c.GrantTypes, "authorization_code") {
		errs = append(errs, "--post-logout-redirect-uri is only meaningful with the authorization_code grant")
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if !goodRedirect(u, c.Public) {
			errs = append(errs, fmt.Sprintf("post-logout redirect URI %q %s", u, redirectRule))
		}
	}
	if u := c.BackchannelLogoutURI; u != "" && !goodLogoutURI(u) {
		errs = append(errs, fmt.Sprintf("back-channel logout URI %q must be absolute http(s), without fragment, and https unless on loopback", u))
	}
	if u := c.FrontchannelLogoutURI; u != "" && !goodLogoutURI(u) {
		errs = append(errs, fmt.Sprintf("front-channel logout URI %q must be absolute http(s), without fragment, and https unless on loopback", u))
	}
	for _, o := range c.CORSOrigins {
		p, err := url.Parse(o)
		if err != nil || p.Host == "" || p.Path != "" || p.RawQuery != "" || p.Fragment != "" || p.User != nil ||
			!(p.Scheme == "https" || p.Scheme == "http" && loopback(p.Hostname())) {
			errs = append(errs, fmt.Sprintf("CORS origin %q must be scheme://host[:port] (no path), https unless on loopback", o))
		}
	}
	return errs
}

// resourceProblems checks the resources the client may request and the one
// it protects: each a resource indicator (RFC 8707 §2).
func (c *Client) resourceProblems() []string {
	var errs []string
	for _, a := range c.Audience {
		if !IsResourceURI(a) {
			errs = append(errs, fmt.Sprintf("--audience %q must be an absolute URI without a fragment (RFC 8707)", a))
		}
	}
	if c.Resource != "" && !IsResourceURI(c.Resource) {
		errs = append(errs, fmt.Sprintf("--resource %q must be an absolute URI without a fragment (RFC 8707)", c.Resource))
	}
	return errs
}

// IsResourceURI reports whether s is a resource indicator as RFC 8707 §2
// has it: an absolute URI (a scheme; a host for http and https) without a
// fragment, and here without whitespace or control characters, bounded.
func IsResourceURI(s string) bool {
	if s == "" || len(s) > 2048 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(s, "#") {
		return false
	}
	return (u.Scheme != "http" && u.Scheme != "https") || u.Host != ""
}

// authProblems checks the token formats and the authentication method with
// its keys.
func (c *Client) authProblems() []string {
	var errs []string
	if c.AccessTokenFormat != "opaque" && c.AccessTokenFormat != "jwt" {
		errs = append(errs, "--access-token-format must be opaque or jwt")
	}
	if c.IDTokenAlg != "RS256" && c.IDTokenAlg != "ES256" {
		errs = append(errs, "--id-token-alg must be RS256 or ES256")
	}
	switch c.TokenEndpointAuthMethod {
	case "", "client_secret_basic", "client_secret_post":
		if len(c.JWKS) > 0 || c.JWKSURI != "" {
			errs = append(errs, "--jwks-file and --jwks-uri need --auth-method private_key_jwt")
		}
	case "private_key_jwt":
		if c.Public || len(c.SecretHash) > 0 {
			errs = append(errs, "a private_key_jwt client has neither --public nor --secret")
		}
		if (len(c.JWKS) > 0) == (c.JWKSURI != "") {
			errs = append(errs, "private_key_jwt needs exactly one of --jwks-file or --jwks-uri")
		}
		if len(c.JWKS) > 0 {
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(c.JWKS, &set); err != nil {
				errs = append(errs, fmt.Sprintf("client %s has an unreadable JWKS: %v", c.ID, err))
			} else if bytes.Contains(c.JWKS, []byte(`"d"`)) {
				errs = append(errs, "the JWK Set must hold public keys only")
			}
		}
		if u, err := url.Parse(c.JWKSURI); c.JWKSURI != "" && (err != nil || u.Scheme != "https" && !loopback(u.Hostname())) {
			errs = append(errs, "--jwks-uri must be https (or loopback)")
		}
	default:
		errs = append(errs, "--auth-method must be client_secret_basic, client_secret_post or private_key_jwt")
	}
	return errs
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
