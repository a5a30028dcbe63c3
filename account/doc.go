// Package account owns the signed-in user's view of their own grants and
// of the apps they allowed: the JSON API under /api/me/grants and
// /api/me/apps (a bearer access token with the "grants" scope) and, for the
// "your devices" page of package web, the Devices and AppsPage
// implementations. Grants themselves live in package grants, remembered
// consents in Postgres.
package account
