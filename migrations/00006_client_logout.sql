-- Back-Channel Logout 1.0 client metadata: where a client receives logout
-- tokens, and whether it needs the session id (sid) in them.

-- +goose Up
ALTER TABLE clients
    ADD COLUMN backchannel_logout_uri              text    NOT NULL DEFAULT '',
    ADD COLUMN backchannel_logout_session_required boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE clients
    DROP COLUMN backchannel_logout_session_required,
    DROP COLUMN backchannel_logout_uri;
