package web

import (
	"errors"
	"mime"
	"net/http"
)

// MaxFormBytes bounds the body of every form a page receives (the sign-in,
// sign-out, consent, device and devices forms are a few hundred bytes), as
// the protocol endpoints bound theirs.
const MaxFormBytes = 64 << 10

// boundedForm parses the form of an unsafe request before anything else
// reads it (gorilla/csrf, the sign-in limiter, the handler): at most
// MaxFormBytes, application/x-www-form-urlencoded only (a page never needs
// multipart, which would spill to temporary files). A larger body is refused
// with 413 (a declared Content-Length without reading it), any other
// encoding with 415; everything after sees the one bounded, parsed form.
func (p *Pages) boundedForm(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			h.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > MaxFormBytes {
			p.formTooLarge(w, r)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" || r.ContentLength != 0 {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
				w.Header().Set("Accept-Post", "application/x-www-form-urlencoded")
				p.RenderError(w, r, http.StatusUnsupportedMediaType, "Unsupported form",
					"This form must be sent as a plain web form. Go back, reload the page and try again.")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				p.formTooLarge(w, r)
				return
			}
			p.RenderError(w, r, http.StatusBadRequest, "Invalid form", "The form could not be read. Go back, reload the page and try again.")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (p *Pages) formTooLarge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	p.RenderError(w, r, http.StatusRequestEntityTooLarge, "Form too large", "The form sent is larger than any form of this site.")
}
