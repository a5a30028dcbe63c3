package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/ory/fosite"

	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/storage"
)

// maxParamBytes bounds one protocol parameter: authd's tokens, codes and
// verifiers are far shorter; a long value is garbage or an attack.
const maxParamBytes = 4096

// parseForm parses a protocol request's form once, before fosite or the
// rate limiter look at it, and enforces what fosite does not: a bounded
// body, the form content type, no repeated parameters (RFC 6749 §3.1) and
// valid UTF-8. It also accepts client_secret_post for every confidential
// client by turning it into the equivalent HTTP Basic credentials (fosite
// binds a client to one method). The errors are invalid_request.
func parseForm(w http.ResponseWriter, r *http.Request, maxBody int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		if i := strings.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		if !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") {
			return fosite.ErrInvalidRequest.WithHint("The request body must be application/x-www-form-urlencoded.")
		}
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fosite.ErrInvalidRequest.WithHint("The request body is too large.")
		}
		return fosite.ErrInvalidRequest.WithHint("The request body could not be parsed.")
	}
	if err := checkParams(r.Form); err != nil {
		return err
	}
	return secretPostAsBasic(r)
}

// checkParams: no parameter repeated (but resource, RFC 8707 §2), every
// name and value valid UTF-8 and bounded.
func checkParams(form url.Values) error {
	for k, vs := range form {
		if len(vs) > 1 && k != resourceParam {
			return fosite.ErrInvalidRequest.WithHintf("The parameter %q must not be repeated.", k)
		}
		for _, v := range vs {
			if !validUTF8(k) || !validUTF8(v) {
				return fosite.ErrInvalidRequest.WithHint("Parameters must be valid UTF-8.")
			}
			if len(k) > 64 || len(v) > maxParamBytes {
				return fosite.ErrInvalidRequest.WithHint("A parameter is too long.")
			}
		}
	}
	return nil
}

// secretPostAsBasic turns client_secret_post credentials into HTTP Basic
// ones (form-encoded, RFC 6749 §2.3.1); both at once is invalid_request.
func secretPostAsBasic(r *http.Request) error {
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if secret == "" || id == "" {
		return nil
	}
	if _, _, basic := r.BasicAuth(); basic {
		return fosite.ErrInvalidRequest.WithHint("Use exactly one client authentication method.")
	}
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	r.PostForm.Del("client_secret")
	r.Form.Del("client_secret")
	return nil
}

// validUTF8: no invalid byte sequence (ranging over one yields
// utf8.RuneError), and no U+FFFD either, which in a protocol parameter only
// ever comes from a botched conversion.
func validUTF8(s string) bool {
	return !strings.ContainsRune(s, utf8.RuneError)
}

// formError writes a request whose form was refused, in its endpoint's
// error shape.
type formError func(w http.ResponseWriter, r *http.Request, err error)

// parsed runs h on requests whose form parseForm accepted; the others get
// fail's answer. Everything after it (the rate limiter, fosite, the
// handler) reads that one parsed form.
func (s *Server) parsed(fail formError, h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := parseForm(w, r, s.cfg.MaxBodyBytes); err != nil {
			fail(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	}
}

// requestMeta extracts the caller's address and user agent (the
// authorizing browser's at the authorization step, a grant's last use at
// a refresh), cleaned for storage.
func requestMeta(r *http.Request) storage.RequestMeta { return httpx.RequestMeta(r) }
