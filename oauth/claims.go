package oauth

import (
	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

// profileClaims and emailClaims are the standard claims (OIDC Core 5.4)
// that scopes profile and email release; claims_supported lists them.
var (
	profileClaims = []string{"name", "given_name", "family_name", "preferred_username", "updated_at"}
	emailClaims   = []string{"email", "email_verified"}
)

// addUserClaims adds to out the claims of u the granted scopes release:
// profile gives the names, preferred_username and updated_at (seconds since
// the epoch), email gives email and email_verified. A claim the user has no
// value for is left out.
func addUserClaims(out map[string]any, u *storage.User, granted fosite.Arguments) {
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	if granted.Has("profile") {
		set("name", u.Name)
		set("given_name", u.GivenName)
		set("family_name", u.FamilyName)
		set("preferred_username", u.Username)
		out["updated_at"] = u.UpdatedAt.Unix()
	}
	if granted.Has("email") && u.Email != "" {
		out["email"] = u.Email
		out["email_verified"] = u.EmailVerified
	}
}
