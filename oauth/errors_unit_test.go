package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

// refused is what a dial to a closed port returns.
func refused() error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, Err: syscall.ECONNREFUSED}
}

func TestProtocolError(t *testing.T) {
	plainClient := fosite.ErrInvalidClient.WithHint("Client authentication failed.")
	plain := errors.New("boom")
	cases := []struct {
		name   string
		in     error
		code   string // "": returned as it is
		status int
	}{
		{"lost race", fmt.Errorf("rotate: %w", storage.ErrStale), "invalid_grant", http.StatusBadRequest},
		{"lost race inside server_error", fosite.ErrServerError.WithWrap(storage.ErrStale), "invalid_grant", http.StatusBadRequest},
		{"revoked mid-flight", fmt.Errorf("create access: %w", storage.ErrRevoked), "invalid_grant", http.StatusBadRequest},
		{"serialization failure", fosite.ErrSerializationFailure, "invalid_grant", http.StatusBadRequest},
		{"dial refused", outage(refused()), "temporarily_unavailable", http.StatusServiceUnavailable},
		{"ECONNREFUSED in fosite's WithWrap", fosite.ErrServerError.WithWrap(outage(syscall.ECONNREFUSED)), "temporarily_unavailable", http.StatusServiceUnavailable},
		{"deadline", outage(context.DeadlineExceeded), "temporarily_unavailable", http.StatusServiceUnavailable},
		{"EOF from a dead pooled connection", outage(io.EOF), "temporarily_unavailable", http.StatusServiceUnavailable},
		{"already temporarily_unavailable", fosite.ErrTemporarilyUnavailable, "temporarily_unavailable", http.StatusServiceUnavailable},
		{"code gone between fosite's two lookups", fosite.ErrServerError.WithWrap(fosite.ErrNotFound), "invalid_grant", http.StatusBadRequest},
		{"code invalidated between lookups", fosite.ErrServerError.WithWrap(fosite.ErrInvalidatedAuthorizeCode), "invalid_grant", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantRFC6749(t, protocolError(tc.in), tc.code, tc.status)
		})
	}
	for _, in := range []error{plainClient, plain, fosite.ErrNotFound, fosite.ErrServerError.WithWrap(plain), fosite.ErrInvalidGrant} {
		t.Run("unchanged "+in.Error(), func(t *testing.T) {
			if got := protocolError(in); got != in {
				t.Fatalf("protocolError(%v) = %v, want it unchanged", in, got)
			}
		})
	}
	if protocolError(nil) != nil {
		t.Fatal("protocolError(nil) != nil")
	}
}

func TestIsUnavailable(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("boom"), false},
		{"not found", fmt.Errorf("get: %w", storage.ErrNotFound), false},
		{"cancelled by the caller", context.Canceled, false},
		{"invalid_grant", fosite.ErrInvalidGrant, false},
		{"invalid_client wrapping not found", fosite.ErrInvalidClient.WithWrap(storage.ErrNotFound), false},
		{"server_error wrapping a plain error", fosite.ErrServerError.WithWrap(errors.New("x")), false},
		// Drivers' errors are the stores' to classify (storage.ErrUnavailable);
		// oauth judges no error by its text or its driver type.
		{"unmarked dial error", refused(), false},
		{"text alone", errors.New("dial tcp 127.0.0.1:6379: connect: connection refused"), false},
		{"bare storage.ErrUnavailable", storage.ErrUnavailable, true},
		{"temporarily_unavailable", fosite.ErrTemporarilyUnavailable.WithHint("later"), true},
		{"errUnavailable", errUnavailable, true},
		{"dial refused", outage(refused()), true},
		{"ECONNREFUSED in fosite's WithWrap", fosite.ErrServerError.WithWrap(outage(syscall.ECONNREFUSED)), true},
		{"ECONNRESET", outage(syscall.ECONNRESET), true},
		{"deadline", outage(context.DeadlineExceeded), true},
		{"EOF", outage(io.EOF), true},
		{"unexpected EOF, twice wrapped", fmt.Errorf("load: %w", fosite.ErrInvalidClient.WithWrap(outage(io.ErrUnexpectedEOF))), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := isUnavailable(tc.err); got != tc.want {
				t.Fatalf("isUnavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		status    int
		code      string
		desc      string // a fragment of error_description
		challenge bool   // WWW-Authenticate: Basic
	}{
		{"invalid_client", errIntrospectBadClient, http.StatusUnauthorized, "invalid_client", "Client authentication failed.", true},
		{"invalid_client, wrapped", fmt.Errorf("auth: %w", errIntrospectAuth), http.StatusUnauthorized, "invalid_client", "Authenticate as a client", true},
		{"invalid_client that is no 401", &fosite.RFC6749Error{ErrorField: "invalid_client", DescriptionField: "Slow down.", CodeField: http.StatusBadRequest},
			http.StatusBadRequest, "invalid_client", "Slow down.", false},
		{"forbidden", errIntrospectForbidden, http.StatusForbidden, "unauthorized_client", "not allowed to introspect", false},
		{"unavailable", errUnavailable, http.StatusServiceUnavailable, "temporarily_unavailable", "Retry later.", false},
		{"invalid_request", fosite.ErrInvalidRequest.WithHint("The token parameter is missing."), http.StatusBadRequest, "invalid_request", "token parameter is missing", false},
		{"description without hint", fosite.ErrInvalidGrant, http.StatusBadRequest, "invalid_grant", fosite.ErrInvalidGrant.DescriptionField, false},
		{"not an RFC 6749 error", errors.New("pq: secret detail"), http.StatusInternalServerError, "server_error", fosite.ErrServerError.DescriptionField, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, tc.err)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q", ct)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("Cache-Control %q", cc)
			}
			ch := w.Header().Get("WWW-Authenticate")
			if tc.challenge && ch != `Basic realm="authd"` {
				t.Fatalf("WWW-Authenticate %q, want the Basic challenge", ch)
			}
			if !tc.challenge && ch != "" {
				t.Fatalf("WWW-Authenticate %q on a %d", ch, tc.status)
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if len(body) != 2 || body["error"] != tc.code {
				t.Fatalf("body %v, want exactly error=%s and error_description", body, tc.code)
			}
			desc, _ := body["error_description"].(string)
			if !strings.Contains(desc, tc.desc) || strings.Contains(desc, "secret detail") {
				t.Fatalf("error_description %q, want it to say %q and nothing internal", desc, tc.desc)
			}
		})
	}
}
