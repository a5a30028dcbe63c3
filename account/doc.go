// Package account owns the signed-in user's view of their own grants and
// browser sessions: the JSON API under /api/me/grants and /api/me/sessions
// (a bearer access token with the "grants" scope) and, for the "your
// devices" page of package web, the Devices implementation. Grants
// themselves live in package grants, sessions in package sessions.
package account
