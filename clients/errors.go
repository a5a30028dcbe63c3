package clients

import (
	"errors"
	"slices"
	"strings"

	"github.com/authd/authd/storage"
)

// RFC 7591 §3.2.2 error codes.
const (
	InvalidRedirectURI    = "invalid_redirect_uri"
	InvalidClientMetadata = "invalid_client_metadata"
)

// Error is a refused registration or change: every problem found, worded
// for the command line (Problems), with its RFC 7591 error code.
type Error struct {
	// Code is InvalidRedirectURI when a redirect URI itself is malformed,
	// InvalidClientMetadata otherwise.
	Code     string
	Problems []string
}

func (e *Error) Error() string { return strings.Join(e.Problems, "; ") }

// Description is the problems worded with RFC 7591 metadata names instead
// of command-line flags: the error_description of the HTTP APIs.
func (e *Error) Description() string { return metadataNames.Replace(e.Error()) }

// metadataNames rewords the flags storage.Client.Validate names. A flag
// that another starts with comes after it.
var metadataNames = strings.NewReplacer(
	"--id-token-alg", "id_token_signed_response_alg",
	"--id", "client_id",
	"a --public native app", `a native app (token_endpoint_auth_method "none")`,
	"--public", `token_endpoint_auth_method "none"`,
	"--secret", "client_secret",
	"--grant-types", "grant_types",
	"--redirect-uri", "redirect_uris",
	"--post-logout-redirect-uri", "post_logout_redirect_uris",
	"--allowed-cors-origin", "allowed_cors_origins",
	"--scopes", "scope",
	"--name", "client_name",
	"--introspect", "introspect",
	"--access-token-format", "access_token_format",
	"--auth-method", "token_endpoint_auth_method",
	"--jwks-file", "jwks",
	"--jwks-uri", "jwks_uri",
	"--backchannel-logout-uri", "backchannel_logout_uri",
	"--backchannel-logout-session-required", "backchannel_logout_session_required",
	"--frontchannel-logout-uri", "frontchannel_logout_uri",
	"--audience", "audiences",
	"--resource", "resource",
)

// metadataError is a refusal of metadata that has no command-line form
// (its problems already use metadata names).
func metadataError(problems ...string) *Error {
	return &Error{Code: InvalidClientMetadata, Problems: problems}
}

// fromInvalid turns the policy's verdict into an *Error (other errors pass
// through).
func fromInvalid(err error, extra ...string) error {
	var invalid *storage.InvalidClientError
	switch {
	case errors.As(err, &invalid):
		code := InvalidClientMetadata
		if invalid.Redirect {
			code = InvalidRedirectURI
		}
		return &Error{Code: code, Problems: append(slices.Clone(invalid.Problems), extra...)}
	case err == nil && len(extra) > 0:
		return metadataError(extra...)
	}
	return err
}
