-- Clients registered over RFC 7591 (dynamic client registration): the hash
-- of each one's registration access token (RFC 7592), never the token. The
-- row goes with its client.

-- +goose Up
CREATE TABLE client_registrations (
    client_id  text        PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    token_hash bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE client_registrations;
