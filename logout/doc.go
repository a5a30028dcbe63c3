// Package logout owns signing relying parties out when a browser session
// ends: the RP-Initiated Logout 1.0 endpoint (/oauth2/logout, with its
// confirmation page), Front-Channel Logout 1.0 (the frames of the "Signed
// out" page, EndSession), and Back-Channel Logout 1.0, whose logout tokens are
// queued durably when a session ends (Listener) and delivered to each
// client's backchannel_logout_uri by a background Worker, retried with
// backoff.
//
// It takes small interfaces (the browser session, the client registry,
// id_token_hint verification, the signing keys, the queue) that cmd/authd
// meets with the concrete stores.
package logout
