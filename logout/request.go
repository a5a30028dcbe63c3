package logout

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/authd/authd/storage"
)

// request is a parsed, checked logout request.
type request struct {
	hint     map[string]any  // the verified id_token_hint's claims; nil without one
	client   *storage.Client // the app named by the hint or client_id; nil for none
	redirect string          // a registered post_logout_redirect_uri, or ""
	state    string
	locales  string // ui_locales: accepted (the pages are in English)
}

// badRequestError is a malformed logout request, its message for the
// person who sees it.
type badRequestError string

func (e badRequestError) Error() string { return string(e) }

// parse reads and checks a logout request. The client is the hint's
// audience (azp when it has several) or client_id, which must agree; a
// post_logout_redirect_uri that is not registered for that client is
// dropped (never followed), and so is one without a client.
func (e *EndSession) parse(ctx context.Context, f url.Values) (request, error) {
	req := request{state: f.Get("state"), locales: f.Get("ui_locales")}
	if len(req.state) > 2048 {
		return req, badRequestError("The state parameter is too long.")
	}
	id := f.Get("client_id")
	if raw := f.Get("id_token_hint"); raw != "" {
		claims, err := e.Hints.IDTokenHint(ctx, raw)
		if err != nil {
			return req, badRequestError("The id_token_hint is not an ID token authd issued.")
		}
		req.hint = claims
		aud := audience(claims)
		if id == "" {
			if id = hintClient(claims, aud); id == "" {
				return req, badRequestError("The id_token_hint names several clients; send client_id.")
			}
		} else if !contains(aud, id) {
			return req, badRequestError("The client_id is not the id_token_hint's audience.")
		}
	}
	if id != "" {
		c, err := e.Clients.Client(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return req, badRequestError("The client_id is not a registered client.")
		} else if err != nil {
			return req, fmt.Errorf("logout: client %q: %w", id, err)
		}
		req.client = c
	}
	if uri := f.Get("post_logout_redirect_uri"); uri != "" {
		if registered(req.client, uri) {
			req.redirect = uri
		} else {
			e.Logger.InfoContext(ctx, "rp-initiated logout: post_logout_redirect_uri not registered, not followed", "client_id", id)
		}
	}
	return req, nil
}

// fields are what the confirmation form carries to ConfirmPath.
func (req request) fields() map[string]string {
	f := map[string]string{}
	if req.client != nil {
		f["client_id"] = req.client.ID
	}
	if req.redirect != "" {
		f["post_logout_redirect_uri"] = req.redirect
	}
	if req.state != "" {
		f["state"] = req.state
	}
	if req.locales != "" {
		f["ui_locales"] = req.locales
	}
	return f
}

// audience is the hint's aud as a list.
func audience(claims map[string]any) []string {
	switch a := claims["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return a
	}
	return nil
}

// hintClient is the client an ID token was issued to: its only audience,
// or azp among several.
func hintClient(claims map[string]any, aud []string) string {
	if len(aud) == 1 {
		return aud[0]
	}
	if azp, _ := claims["azp"].(string); contains(aud, azp) {
		return azp
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s && s != "" {
			return true
		}
	}
	return false
}

// action is what a logout request leads to.
type action int

const (
	actFinish  action = iota // nobody is signed in here: return to the app
	actSignOut               // the hint proves the request is about this session: sign out
	actConfirm               // ask the person first
)

// decide: without a valid hint, or with one about another user (or
// another session of the same user), the person confirms; a cross-site
// link alone never signs anyone out.
func decide(req request, cur Session, signedIn bool) action {
	if !signedIn {
		return actFinish
	}
	if req.hint == nil {
		return actConfirm
	}
	sub, _ := req.hint["sub"].(string)
	sid, _ := req.hint["sid"].(string)
	if sub == "" || sub != cur.Subject || sid != "" && sid != cur.ID {
		return actConfirm
	}
	return actSignOut
}
