-- Logout client metadata. Back-Channel Logout 1.0: where a client receives
-- logout tokens, and whether it needs the session id (sid) in them.
-- Front-Channel Logout 1.0: the page authd loads in an iframe when a
-- session the client signed in through ends in the browser.

-- +goose Up
ALTER TABLE clients
    ADD COLUMN backchannel_logout_uri              text    NOT NULL DEFAULT '',
    ADD COLUMN backchannel_logout_session_required boolean NOT NULL DEFAULT false,
    ADD COLUMN frontchannel_logout_uri             text    NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients
    DROP COLUMN frontchannel_logout_uri,
    DROP COLUMN backchannel_logout_session_required,
    DROP COLUMN backchannel_logout_uri;
