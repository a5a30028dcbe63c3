-- The client lifecycle: what `authd clients update` can change besides the
-- existing columns (post-logout redirect URIs, CORS origins), and the
-- previous secret of `authd clients rotate-secret`, which keeps working
-- until previous_secret_expires_at.

-- +goose Up
ALTER TABLE clients
    ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
    ADD COLUMN cors_origins              text[] NOT NULL DEFAULT '{}',
    ADD COLUMN previous_secret_hash       bytea,
    ADD COLUMN previous_secret_expires_at timestamptz,
    ADD CONSTRAINT clients_previous_secret_check
        CHECK ((previous_secret_hash IS NULL) = (previous_secret_expires_at IS NULL));

-- +goose Down
ALTER TABLE clients
    DROP CONSTRAINT clients_previous_secret_check,
    DROP COLUMN previous_secret_expires_at,
    DROP COLUMN previous_secret_hash,
    DROP COLUMN cors_origins,
    DROP COLUMN post_logout_redirect_uris;
