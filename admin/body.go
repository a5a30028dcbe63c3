package admin

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/authd/authd/internal/httpx"
)

// maxBody bounds a request body of the admin API.
const maxBody = 256 << 10

// readJSON decodes the request's JSON object body into v: unknown fields,
// trailing data, another content type or more than maxBody bytes are the
// caller's mistake (400 invalid_request).
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return httpx.Invalid("The body must be application/json.")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return httpx.Invalid("The body is larger than 256 KiB.")
		}
		return httpx.Invalid("The body is not a valid JSON object of this resource: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return httpx.Invalid("The body has data after its JSON object.")
	}
	return nil
}
