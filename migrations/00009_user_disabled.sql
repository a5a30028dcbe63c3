-- A user an operator disabled (the admin API's `disabled`, `authd users
-- update --disabled`): it cannot sign in, and disabling it ended its grants.

-- +goose Up
ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE users DROP COLUMN disabled;
