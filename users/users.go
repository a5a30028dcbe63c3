package users

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/authd/authd/storage"
)

// Store keeps the user records (postgres.DB). Lookups return
// storage.ErrNotFound for a missing user; CreateUser and ModifyUser return
// storage.ErrConflict for a username that is taken.
type Store interface {
	CreateUser(ctx context.Context, u *storage.User) error
	GetUser(ctx context.Context, id string) (*storage.User, error)
	GetUserByUsername(ctx context.Context, username string) (*storage.User, error)
	// ModifyUser edits the user id with change and writes it back, in one
	// transaction (so concurrent changes do not lose each other's fields).
	ModifyUser(ctx context.Context, id string, change func(*storage.User) error) (*storage.User, error)
	ListUsersAfter(ctx context.Context, after string, limit int) ([]storage.User, error)
	// DeleteUser deletes the user and its consents.
	DeleteUser(ctx context.Context, id string) error
}

// Grants ends a subject's grants (grants.Manager).
type Grants interface {
	RevokeAll(ctx context.Context, subject, reason string, keep ...string) ([]string, error)
}

// Sessions ends a subject's browser sessions, except those in keep
// (sessions.Manager). Optional: nil ends none.
type Sessions interface {
	EndAll(ctx context.Context, subject, reason string, keep ...string) (int, error)
}

// Service is the one code path for user accounts.
type Service struct {
	Store    Store
	Grants   Grants       // required for Update and Delete
	Sessions Sessions     // optional
	Logger   *slog.Logger // optional: nil logs nothing
}

// Change is a new user's fields or a change to a user's: a nil field is
// not given (on a change it stays as it is). Password is the clear
// password; only its hash is stored.
type Change struct {
	Username, Password                 *string
	Email, Name, GivenName, FamilyName *string
	EmailVerified, Disabled            *bool
}

// InvalidError lists every problem of a Change at once; callers answer it
// as the caller's mistake (400 invalid_request, a usage error).
type InvalidError struct{ Problems []string }

func (e *InvalidError) Error() string { return strings.Join(e.Problems, "; ") }

// Limits on what a user record holds.
const (
	MinPassword = 8
	maxPassword = 1024 // the sign-in form refuses longer ones
	maxUsername = 200  // likewise
	maxText     = 512
)

// problems checks the fields c gives; creating says username and password
// are required.
func (c Change) problems(creating bool) []string {
	var ps []string
	switch {
	case c.Username == nil || *c.Username == "":
		if creating || c.Username != nil {
			ps = append(ps, "username is required")
		}
	case len(*c.Username) > maxUsername || strings.TrimSpace(*c.Username) != *c.Username || !utf8.ValidString(*c.Username):
		ps = append(ps, fmt.Sprintf("username must be valid UTF-8 of at most %d bytes without leading or trailing spaces", maxUsername))
	}
	switch {
	case c.Password == nil:
		if creating {
			ps = append(ps, "password is required")
		}
	case len(*c.Password) < MinPassword || len(*c.Password) > maxPassword:
		ps = append(ps, fmt.Sprintf("the password must be at least %d characters (at most %d)", MinPassword, maxPassword))
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"email", c.Email}, {"name", c.Name}, {"given_name", c.GivenName}, {"family_name", c.FamilyName}} {
		if f.v != nil && (len(*f.v) > maxText || !utf8.ValidString(*f.v)) {
			ps = append(ps, fmt.Sprintf("%s must be valid UTF-8 of at most %d bytes", f.name, maxText))
		}
	}
	return ps
}

// hashed returns c without its password, and the password's hash (nil
// when c has none). argon2id takes a core for ~35 ms: it runs before any
// row is locked.
func (c Change) hashed() (Change, *string, error) {
	if c.Password == nil {
		return c, nil, nil
	}
	h, err := storage.HashPassword(*c.Password)
	if err != nil {
		return c, nil, err
	}
	c.Password = nil
	return c, &h, nil
}

// apply copies the fields c gives onto u, and hash (when not nil).
func (c Change) apply(u *storage.User, hash *string) {
	set(&u.Username, c.Username)
	set(&u.Email, c.Email)
	set(&u.Name, c.Name)
	set(&u.GivenName, c.GivenName)
	set(&u.FamilyName, c.FamilyName)
	set(&u.EmailVerified, c.EmailVerified)
	set(&u.Disabled, c.Disabled)
	set(&u.PasswordHash, hash)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// check is c's problems as an *InvalidError, or nil.
func (c Change) check(creating bool) error {
	if ps := c.problems(creating); len(ps) > 0 {
		return &InvalidError{Problems: ps}
	}
	return nil
}

// Create creates a user from c (username and password required). It
// returns an *InvalidError or storage.ErrConflict (the username is taken).
func (s *Service) Create(ctx context.Context, c Change) (*storage.User, error) {
	if err := c.check(true); err != nil {
		return nil, err
	}
	c, hash, err := c.hashed()
	if err != nil {
		return nil, err
	}
	u := &storage.User{}
	c.apply(u, hash)
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	s.log().InfoContext(ctx, "user created", "subject", u.ID, "disabled", u.Disabled)
	return u, nil
}

// Get returns the user subject (storage.ErrNotFound).
func (s *Service) Get(ctx context.Context, subject string) (*storage.User, error) {
	return s.Store.GetUser(ctx, subject)
}

// GetByUsername returns the user called username (storage.ErrNotFound).
func (s *Service) GetByUsername(ctx context.Context, username string) (*storage.User, error) {
	return s.Store.GetUserByUsername(ctx, username)
}

// Update applies c to the user subject. A new password or disabling the
// user ends its browser sessions and grants once the record is written
// (the record first, so no new sign-in can slip in after the revocation).
// It returns an *InvalidError, storage.ErrNotFound, or storage.ErrConflict
// (a new username that is taken); an error ending sessions or grants
// after the write is returned too, the change being made.
func (s *Service) Update(ctx context.Context, subject string, c Change) (*storage.User, error) {
	if err := c.check(false); err != nil {
		return nil, err
	}
	c, hash, err := c.hashed()
	if err != nil {
		return nil, err
	}
	u, err := s.Store.ModifyUser(ctx, subject, func(u *storage.User) error { c.apply(u, hash); return nil })
	if err != nil {
		return nil, err
	}
	reason := ""
	switch {
	case c.Disabled != nil && *c.Disabled: // again when disabled already: a retry finishes the job
		reason = storage.RevokedUserDisabled
	case hash != nil:
		reason = storage.RevokedPasswordChanged
	}
	s.log().InfoContext(ctx, "user updated", "subject", u.ID, "disabled", u.Disabled, "password_changed", hash != nil)
	if reason != "" {
		return u, s.endAll(ctx, u.ID, reason)
	}
	return u, nil
}

// Delete deletes the user subject: it is disabled first (no new sign-in),
// then its browser sessions and grants are ended, then the record and its
// consents are deleted; the grant rows stay, revoked, until the janitor
// deletes them after the retention period. A failure before the deletion
// leaves the user disabled, so calling Delete again finishes the job.
// storage.ErrNotFound when there is no such user.
func (s *Service) Delete(ctx context.Context, subject string) error {
	if _, err := s.Store.ModifyUser(ctx, subject, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
		return err
	}
	if err := s.endAll(ctx, subject, storage.RevokedUserDeleted); err != nil {
		return err
	}
	if err := s.Store.DeleteUser(ctx, subject); err != nil {
		return err
	}
	s.log().InfoContext(ctx, "user deleted", "subject", subject)
	return nil
}

// Page is one page of a listing: Next is the cursor of the following page
// ("" after the last).
type Page struct {
	Users []storage.User
	Next  string
}

// List returns at most limit users after the cursor after ("" from the
// start), ordered by username. The cursor is the last username of the
// previous page; callers make it opaque.
func (s *Service) List(ctx context.Context, after string, limit int) (Page, error) {
	us, err := s.Store.ListUsersAfter(ctx, after, limit+1)
	if err != nil {
		return Page{}, err
	}
	p := Page{Users: us}
	if len(us) > limit {
		p.Users = us[:limit]
		p.Next = us[limit-1].Username
	}
	return p, nil
}

// endAll ends the subject's browser sessions, then its grants (a session
// left alive could authorize a new grant).
func (s *Service) endAll(ctx context.Context, subject, reason string) error {
	var errs []error
	if s.Sessions != nil {
		if _, err := s.Sessions.EndAll(ctx, subject, reason); err != nil {
			errs = append(errs, fmt.Errorf("end sessions of %s: %w", subject, err))
		}
	}
	ids, err := s.Grants.RevokeAll(ctx, subject, reason)
	if err != nil {
		errs = append(errs, fmt.Errorf("revoke grants of %s: %w", subject, err))
	}
	s.log().InfoContext(ctx, "user's grants ended", "subject", subject, "reason", reason, "grants", len(ids))
	return errors.Join(errs...)
}

// log is the Logger; without one (the CLI, which prints its own lines)
// nothing is logged.
func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}
