package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/storage"
)

const userCols = `id, username, password_hash, created_at,
	email, email_verified, name, given_name, family_name, updated_at, disabled`

func scanUser(row pgx.Row) (storage.User, error) {
	var u storage.User
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.CreatedAt,
		&u.Email, &u.EmailVerified, &u.Name, &u.GivenName, &u.FamilyName, &u.UpdatedAt, &u.Disabled)
	return u, err
}

// CreateUser stores u. It sets u.ID to a new random UUID when empty and
// u.CreatedAt to now when zero; u.UpdatedAt becomes u.CreatedAt. It returns storage.ErrConflict when the
// username (or the given id) is taken. Usernames are compared exactly
// (case-sensitive).
func (db *DB) CreateUser(ctx context.Context, u *storage.User) error {
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	u.CreatedAt = orNow(u.CreatedAt)
	u.UpdatedAt = u.CreatedAt
	_, err := db.pool.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		u.ID, u.Username, u.PasswordHash, u.CreatedAt,
		u.Email, u.EmailVerified, u.Name, u.GivenName, u.FamilyName, u.UpdatedAt, u.Disabled)
	if err != nil {
		return wrap("create user", err)
	}
	return nil
}

const updateUserSQL = `UPDATE users SET username = $2, password_hash = $3, email = $4,
	email_verified = $5, name = $6, given_name = $7, family_name = $8, disabled = $9, updated_at = now()
	WHERE id = $1 RETURNING updated_at`

// UpdateUser writes the username, password hash, profile and disabled flag
// of the user u.ID (the id and creation time stay) and sets u.UpdatedAt to
// now. It returns storage.ErrNotFound when there is no such user and
// storage.ErrConflict when the username is another user's.
func (db *DB) UpdateUser(ctx context.Context, u *storage.User) error {
	err := db.pool.QueryRow(ctx, updateUserSQL, u.ID, u.Username, u.PasswordHash, u.Email, u.EmailVerified,
		u.Name, u.GivenName, u.FamilyName, u.Disabled).Scan(&u.UpdatedAt)
	if err != nil {
		return wrap("update user", err)
	}
	return nil
}

// ModifyUser changes the user id as change says, atomically: in one
// transaction the row is read FOR UPDATE, change edits it (an error from
// change is returned and nothing is written), and UpdateUser's columns are
// written back, updated_at set to now. It returns the user as stored,
// storage.ErrNotFound when there is none and storage.ErrConflict when the
// new username is another user's.
func (db *DB) ModifyUser(ctx context.Context, id string, change func(*storage.User) error) (*storage.User, error) {
	var u storage.User
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		if u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		if err := change(&u); err != nil {
			return err
		}
		return tx.QueryRow(ctx, updateUserSQL, u.ID, u.Username, u.PasswordHash, u.Email, u.EmailVerified,
			u.Name, u.GivenName, u.FamilyName, u.Disabled).Scan(&u.UpdatedAt)
	})
	if err != nil {
		return nil, wrap("modify user", err)
	}
	return &u, nil
}

// GetUser returns the user with the given id, or storage.ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id string) (*storage.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, wrap("get user", err)
	}
	return &u, nil
}

// GetUserByUsername returns the user with the given username, or
// storage.ErrNotFound.
func (db *DB) GetUserByUsername(ctx context.Context, username string) (*storage.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`, username))
	if err != nil {
		return nil, wrap("get user by username", err)
	}
	return &u, nil
}

// ListUsers returns every user ordered by username.
func (db *DB) ListUsers(ctx context.Context) ([]storage.User, error) {
	rows, _ := db.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	us, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.User, error) { return scanUser(r) })
	if err != nil {
		return nil, wrap("list users", err)
	}
	return us, nil
}

// ListUsersAfter returns at most limit users whose username sorts after
// after ("" from the start), ordered by username: one page of a listing.
func (db *DB) ListUsersAfter(ctx context.Context, after string, limit int) ([]storage.User, error) {
	rows, _ := db.pool.Query(ctx, `SELECT `+userCols+` FROM users WHERE username > $1 ORDER BY username LIMIT $2`,
		after, limit)
	us, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.User, error) { return scanUser(r) })
	if err != nil {
		return nil, wrap("list users", err)
	}
	return us, nil
}

// DeleteUser deletes the user id and, in the same transaction, its
// consents. Its grant rows stay (marked revoked by the caller, deleted by
// the janitor after the retention period). It returns storage.ErrNotFound
// when there is no such user.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		_, err = tx.Exec(ctx, `DELETE FROM consents WHERE subject = $1`, id)
		return err
	})
	if err != nil {
		return wrap("delete user", err)
	}
	return nil
}
