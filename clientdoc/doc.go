// Package clientdoc owns Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document): a client_id that is an
// https URL names a JSON document of RFC 7591 client metadata that authd
// fetches (Resolver), guarded against server-side request forgery (no
// redirects, no special-use addresses, checked when dialling), bounded in
// size and time, cached as its HTTP caching headers say within authd's
// bounds, and turned into an ordinary public client (storage.Client) under
// the policy every registration meets (clients.Check).
package clientdoc
