package web

import (
	"crypto/rand"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// FormField is one hidden field of the form_post page.
type FormField struct{ Name, Value string }

// RenderFormPost renders an authorization response in the Form Post
// Response Mode (OAuth 2.0 Form Post Response Mode): a page whose form
// posts params to redirectURI, submitted by a script when scripts run and
// by its visible button when they do not. The page has its own CSP: the
// script is allowed by a fresh nonce, and form-action allows exactly the
// redirect URI's origin. redirectURI must be one the client registered
// (the caller validated it).
func (p *Pages) RenderFormPost(w http.ResponseWriter, redirectURI *url.URL, params url.Values) {
	nonce := rand.Text() // a fresh CSP nonce, 130 random bits
	fields := make([]FormField, 0, len(params))
	for k := range params {
		fields = append(fields, FormField{Name: k, Value: params.Get(k)})
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'self'; img-src 'self'; "+
		"form-action "+formActionSource(redirectURI)+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(http.StatusOK)
	data := map[string]any{
		"Title": "Continue", "Fields": fields, "Nonce": nonce,
		// A registered redirect URI, possibly with a private-use scheme
		// html/template would otherwise refuse.
		"Action": template.URL(redirectURI.String()), //nolint:gosec // validated by the caller
	}
	if err := p.tmpl.ExecuteTemplate(w, "formpost.html", data); err != nil {
		p.cfg.Logger.Error("render page", "page", "formpost.html", "err", err)
	}
}

// formActionSource is the CSP source expression allowing a form to post to
// u: its origin, or just its scheme for a URI without a host (a native
// app's private-use scheme). A host with characters a CSP source cannot
// hold yields the scheme alone rather than a policy that could be bent.
func formActionSource(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	if u.Host == "" || strings.ContainsAny(u.Host, " ;,'\"\t\r\n") {
		return scheme + ":"
	}
	return scheme + "://" + u.Host
}
