// Package account owns the signed-in user's view of their own grants, of
// the apps they allowed and of their browser sessions: the JSON API under
// /api/me/grants, /api/me/apps and /api/me/sessions (a bearer access token
// with the "grants" scope) and, for the "your devices" page of package web,
// the Devices and AppsPage implementations. Grants themselves live in
// package grants, remembered consents in Postgres, sessions in package
// sessions.
package account
