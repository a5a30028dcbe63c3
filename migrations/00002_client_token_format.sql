-- Per-client access token format (RFC 9068 JWTs or opaque) and the public
-- keys of clients that authenticate with private_key_jwt (RFC 7523).

-- +goose Up
ALTER TABLE clients
    ADD COLUMN access_token_format text NOT NULL DEFAULT 'opaque'
        CHECK (access_token_format IN ('opaque', 'jwt')),
    ADD COLUMN jwks jsonb,
    ADD COLUMN jwks_uri text NOT NULL DEFAULT '';
-- A private_key_jwt client authenticates with its key, not a secret.
ALTER TABLE clients DROP CONSTRAINT clients_check;
ALTER TABLE clients ADD CONSTRAINT clients_credentials_check
    CHECK (public OR secret_hash IS NOT NULL
           OR (token_endpoint_auth_method = 'private_key_jwt' AND (jwks IS NOT NULL OR jwks_uri <> '')));

-- +goose Down
ALTER TABLE clients DROP CONSTRAINT clients_credentials_check;
ALTER TABLE clients ADD CONSTRAINT clients_check CHECK (public OR secret_hash IS NOT NULL);
ALTER TABLE clients
    DROP COLUMN jwks_uri,
    DROP COLUMN jwks,
    DROP COLUMN access_token_format;
