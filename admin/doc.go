// Package admin owns the admin API under /admin: a subject's grants listed,
// counted and revoked, its browser sessions listed and ended, and one grant
// revoked, for the holder of the static admin token (AUTHD_ADMIN_TOKEN).
// Without a token configured the API does not exist (404). Grants
// themselves live in package grants, sessions in package sessions.
package admin
