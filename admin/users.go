package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/users"
)

// Users is what the admin API needs of the user service (users.Service),
// the same code path `authd users …` takes.
type Users interface {
	Create(ctx context.Context, c users.Change) (*storage.User, error)
	Get(ctx context.Context, subject string) (*storage.User, error)
	Update(ctx context.Context, subject string, c users.Change) (*storage.User, error)
	Delete(ctx context.Context, subject string) error
	List(ctx context.Context, after string, limit int) (users.Page, error)
}

// userBody is the body of POST and PUT: a field absent stays as it is (on
// PUT). password is write-only. The read-only fields of users.View are
// accepted and ignored, so a GET's answer can be edited and sent back.
type userBody struct {
	Username      *string `json:"username"`
	Password      *string `json:"password"`
	Email         *string `json:"email"`
	EmailVerified *bool   `json:"email_verified"`
	Name          *string `json:"name"`
	GivenName     *string `json:"given_name"`
	FamilyName    *string `json:"family_name"`
	Disabled      *bool   `json:"disabled"`
	Subject       any     `json:"subject"`
	CreatedAt     any     `json:"created_at"`
	UpdatedAt     any     `json:"updated_at"`
}

func (b userBody) change() users.Change {
	return users.Change{
		Username: b.Username, Password: b.Password, Email: b.Email, EmailVerified: b.EmailVerified,
		Name: b.Name, GivenName: b.GivenName, FamilyName: b.FamilyName, Disabled: b.Disabled,
	}
}

// userError words the user service's errors for the API.
func userError(err error) error {
	var invalid *users.InvalidError
	switch {
	case errors.As(err, &invalid):
		return httpx.Invalid(strings.Join(invalid.Problems, "; ") + ".")
	case errors.Is(err, storage.ErrConflict):
		return problem(http.StatusConflict, "conflict", "Another user has this username.")
	case errors.Is(err, storage.ErrNotFound):
		return problem(http.StatusNotFound, "not_found", "No such user.")
	}
	return err
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	p, err := readPage(r, "u")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, err := a.Users.List(r.Context(), p.key, p.limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := list[users.View]{Items: make([]users.View, 0, len(page.Users)), NextCursor: cursor("u", page.Next)}
	for _, u := range page.Users {
		out.Items = append(out.Items, users.ViewOf(u))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var b userBody
	if err := readJSON(w, r, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	u, err := a.Users.Create(r.Context(), b.change())
	if err != nil {
		a.fail(w, r, userError(err))
		return
	}
	w.Header().Set("Location", "/admin/users/"+url.PathEscape(u.ID))
	httpx.WriteJSON(w, http.StatusCreated, users.ViewOf(*u))
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := a.Users.Get(r.Context(), mux.Vars(r)["subject"])
	if err != nil {
		a.fail(w, r, userError(err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, users.ViewOf(*u))
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) {
	var b userBody
	if err := readJSON(w, r, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	u, err := a.Users.Update(r.Context(), mux.Vars(r)["subject"], b.change())
	if err != nil {
		a.fail(w, r, userError(err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, users.ViewOf(*u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) {
	if err := a.Users.Delete(r.Context(), mux.Vars(r)["subject"]); err != nil {
		a.fail(w, r, userError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
