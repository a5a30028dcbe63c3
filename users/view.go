package users

import (
	"time"

	"github.com/authd/authd/storage"
)

// View is a user as the admin API and `authd users list --json` show it:
// its profile (the OIDC claims scopes profile and email release; "" when
// unset), never its password or hash.
type View struct {
	Subject       string    `json:"subject"`
	Username      string    `json:"username"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	GivenName     string    `json:"given_name"`
	FamilyName    string    `json:"family_name"`
	Disabled      bool      `json:"disabled"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// ViewOf is the view of u, its times in UTC.
func ViewOf(u storage.User) View {
	return View{
		Subject: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		GivenName: u.GivenName, FamilyName: u.FamilyName, Disabled: u.Disabled,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
}
