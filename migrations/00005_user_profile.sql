-- Profile and contact data of a user (OpenID Connect standard claims of the
-- profile and email scopes), set by `authd users create` and `authd users
-- update`. updated_at is the time the record last changed (the updated_at
-- claim); existing users get their creation time.

-- +goose Up
ALTER TABLE users
    ADD COLUMN email          text        NOT NULL DEFAULT '',
    ADD COLUMN email_verified boolean     NOT NULL DEFAULT false,
    ADD COLUMN name           text        NOT NULL DEFAULT '',
    ADD COLUMN given_name     text        NOT NULL DEFAULT '',
    ADD COLUMN family_name    text        NOT NULL DEFAULT '',
    ADD COLUMN updated_at     timestamptz;
UPDATE users SET updated_at = created_at;
ALTER TABLE users ALTER COLUMN updated_at SET NOT NULL;

-- +goose Down
ALTER TABLE users
    DROP COLUMN updated_at,
    DROP COLUMN family_name,
    DROP COLUMN given_name,
    DROP COLUMN name,
    DROP COLUMN email_verified,
    DROP COLUMN email;
