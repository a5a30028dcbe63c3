// Package registration owns dynamic client registration (RFC 7591) and
// client management (RFC 7592) at /oauth2/register: who may register
// (AUTHD_REGISTRATION off, token or open), the registration access tokens
// (only their hashes are stored), the per-source limit on registrations,
// and the extra policy for clients that register themselves (no
// introspection, no resource, no backchannel_logout_uri, no jwks_uri, no
// client_credentials in open mode). The
// clients it creates are ordinary clients: package clients creates,
// updates and deletes them, with the one policy every way of managing
// clients enforces.
package registration
