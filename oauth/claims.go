package oauth

import (
	"encoding/json"
	"slices"
	"sort"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

// profileClaims and emailClaims are the standard claims (OIDC Core 5.4)
// that scopes profile and email release; claims_supported lists them.
var (
	profileClaims = []string{"name", "given_name", "family_name", "preferred_username", "updated_at"}
	emailClaims   = []string{"email", "email_verified"}
)

// claimScope is the scope whose consent releases a user claim.
func claimScope(name string) string {
	switch {
	case slices.Contains(profileClaims, name):
		return "profile"
	case slices.Contains(emailClaims, name):
		return "email"
	}
	return ""
}

// userClaim is the user's value of claim name; false when the user has
// none (an unset profile field, or a claim authd does not keep).
func userClaim(u *storage.User, name string) (any, bool) {
	str := func(v string) (any, bool) { return v, v != "" }
	switch name {
	case "name":
		return str(u.Name)
	case "given_name":
		return str(u.GivenName)
	case "family_name":
		return str(u.FamilyName)
	case "preferred_username":
		return str(u.Username)
	case "updated_at": // seconds since the epoch
		return u.UpdatedAt.Unix(), true
	case "email":
		return str(u.Email)
	case "email_verified":
		return u.EmailVerified, u.Email != ""
	}
	return nil, false
}

// addUserClaims adds to out the values of u's claims names (those it has).
func addUserClaims(out map[string]any, u *storage.User, names []string) {
	for _, n := range names {
		if v, ok := userClaim(u, n); ok {
			out[n] = v
		}
	}
}

// scopeClaims are the claims the granted scopes release at userinfo
// (OIDC Core 5.4) plus extra, the claims the claims parameter asked there.
func scopeClaims(granted fosite.Arguments, extra []string) []string {
	var names []string
	if granted.Has("profile") {
		names = append(names, profileClaims...)
	}
	if granted.Has("email") {
		names = append(names, emailClaims...)
	}
	for _, n := range extra {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// claimsRequest is the claims authorization parameter (OIDC Core 5.5):
// the claims asked for at userinfo and in the ID token, by name (a nil
// request: null, "no particular wish"). Other members are ignored.
type claimsRequest struct {
	UserInfo map[string]*claimAsk `json:"userinfo"`
	IDToken  map[string]*claimAsk `json:"id_token"`
}

// claimAsk is one requested claim (OIDC Core 5.5.1). Essential and the
// wanted values change nothing for the claims authd releases (it releases
// what it has); they matter for sub and acr (see subject, essentialACR).
type claimAsk struct {
	Essential bool  `json:"essential"`
	Value     any   `json:"value"`
	Values    []any `json:"values"`
}

// parseClaimsRequest parses the claims parameter ("": none); an error is
// invalid_request.
func parseClaimsRequest(raw string) (claimsRequest, error) {
	var cr claimsRequest
	if raw == "" {
		return cr, nil
	}
	if err := json.Unmarshal([]byte(raw), &cr); err != nil {
		return claimsRequest{}, fosite.ErrInvalidRequest.WithHint("The claims parameter is not a JSON object of userinfo and id_token claim requests (OIDC Core 5.5).")
	}
	return cr, nil
}

// subject is the sub value the ID token is asked to have ("": none).
func (cr claimsRequest) subject() string {
	if a := cr.IDToken["sub"]; a != nil {
		s, _ := a.Value.(string)
		return s
	}
	return ""
}

// essentialACR: an authentication context class is asked for as an
// essential claim. authd establishes none, so it cannot meet that (OIDC
// Core 5.5.1.1: a failed authentication).
func (cr claimsRequest) essentialACR() bool {
	for _, m := range []map[string]*claimAsk{cr.UserInfo, cr.IDToken} {
		if a := m["acr"]; a != nil && a.Essential {
			return true
		}
	}
	return false
}

// errUnmetAuthentication is the error for an essential acr authd cannot
// meet (OpenID Connect Core Error Code unmet_authentication_requirements).
var errUnmetAuthentication = &fosite.RFC6749Error{
	ErrorField:       "unmet_authentication_requirements",
	DescriptionField: "The authorization server cannot meet the authentication requirements of the request.",
	HintField:        "authd establishes no authentication context class (acr), and the claims parameter asks for one as essential.",
	CodeField:        400,
}

// claimGrant is what a claims request adds to an authorization: the user
// claims released beyond the requested scopes', and the scopes those
// claims need the user's consent for.
type claimGrant struct {
	userinfo []string // at userinfo (OIDC Core 5.5 userinfo member)
	idToken  []string // in the ID token (id_token member), read at issuance
	scopes   []string // scopes consented to for them (not granted as token scopes)
}

// grantClaims is what cr may add for a client allowed clientScopes that
// requested scopes: only user claims whose scope the client may ask for.
func grantClaims(cr claimsRequest, requested, clientScopes []string) claimGrant {
	var g claimGrant
	pick := func(m map[string]*claimAsk, inScopes bool) []string {
		var out []string
		for n := range m {
			sc := claimScope(n)
			if sc == "" || !slices.Contains(clientScopes, sc) || (inScopes && slices.Contains(requested, sc)) {
				continue
			}
			out = append(out, n)
			if !slices.Contains(g.scopes, sc) && !slices.Contains(requested, sc) {
				g.scopes = append(g.scopes, sc)
			}
		}
		sort.Strings(out)
		return out
	}
	// At userinfo the requested scopes release their claims already.
	g.userinfo, g.idToken = pick(cr.UserInfo, true), pick(cr.IDToken, false)
	sort.Strings(g.scopes)
	return g
}
