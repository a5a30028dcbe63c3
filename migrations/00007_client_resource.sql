-- Resource indicators (RFC 8707): the API a resource server's client
-- protects (`authd clients create|update --resource`), '' for none.
-- Introspection reports active to such a client only the access tokens
-- whose audience holds it. The resources an app client may request are the
-- existing audience column (--audience).

-- +goose Up
ALTER TABLE clients ADD COLUMN resource text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN resource;
