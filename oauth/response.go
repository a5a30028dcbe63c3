package oauth

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/authd/authd/web"
)

// Authorization responses (success and error) as authd writes them, in
// place of fosite's writers: in the response mode the request asked for
// (query, fragment or form_post, the last on authd's own page under its
// own CSP), always with the RFC 9207 iss parameter. The request objects
// authd does not support (request, request_uri) are refused here too,
// once the redirect URI is validated.
//
// authorizeResponses wraps the composed provider, so every authorization
// response the endpoint writes — from issueCode, the prompt and consent
// decisions, or authorizeError — goes through it.
type authorizeResponses struct {
	fosite.OAuth2Provider
	issuer string
	pages  *web.Pages
}

// NewAuthorizeRequest parses the request without its request object: a
// request or request_uri parameter is refused with request_not_supported /
// request_uri_not_supported (OIDC Core 6.1, 6.2), but only once fosite has
// validated the client and its redirect URI, so the refusal is redirected
// to a registered URI (and the object's claims never reach the form).
func (a *authorizeResponses) NewAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	var refused error
	switch {
	case r.Form.Has("request"):
		refused = fosite.ErrRequestNotSupported.WithHint("authd does not support request objects (the request parameter).")
	case r.Form.Has("request_uri"):
		refused = fosite.ErrRequestURINotSupported.WithHint("authd does not support request objects (the request_uri parameter).")
	}
	if refused != nil {
		r.Form.Del("request")
		r.Form.Del("request_uri")
	}
	ar, err := a.OAuth2Provider.NewAuthorizeRequest(ctx, r)
	if refused != nil && ar != nil && ar.IsRedirectURIValid() {
		return ar, refused
	}
	return ar, err
}

// WriteAuthorizeResponse writes a successful authorization response with
// iss.
func (a *authorizeResponses) WriteAuthorizeResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) {
	for k := range resp.GetHeader() {
		w.Header().Set(k, resp.GetHeader().Get(k))
	}
	params := url.Values{}
	for k, v := range resp.GetParameters() {
		params[k] = v
	}
	a.write(w, ar, params)
}

// WriteAuthorizeError writes an error to the client's validated redirect
// URI, with state and iss. A request without one never gets here from
// authorizeError (it shows a page); anything else falls back to fosite.
func (a *authorizeResponses) WriteAuthorizeError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, err error) {
	if ar == nil || !ar.IsRedirectURIValid() {
		a.OAuth2Provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	params := fosite.ErrorToRFC6749Error(err).WithLegacyFormat(false).WithExposeDebug(false).ToValues()
	params.Set("state", ar.GetState())
	a.write(w, ar, params)
}

// write delivers params (plus iss) to the request's redirect URI in its
// response mode: the query (the default for code), the fragment, or a
// form_post page.
func (a *authorizeResponses) write(w http.ResponseWriter, ar fosite.AuthorizeRequester, params url.Values) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	params.Set("iss", a.issuer)
	redir := *ar.GetRedirectURI()
	redir.Fragment, redir.RawFragment = "", "" // a redirect URI has none (RFC 6749 §3.1.2)
	switch ar.GetResponseMode() {
	case fosite.ResponseModeFormPost:
		a.pages.RenderFormPost(w, &redir, params)
		return
	case fosite.ResponseModeFragment:
		w.Header().Set("Location", redir.String()+"#"+params.Encode())
	default:
		q := redir.Query()
		for k, v := range params {
			q[k] = v
		}
		redir.RawQuery = q.Encode()
		w.Header().Set("Location", redir.String())
	}
	w.WriteHeader(http.StatusSeeOther)
}
