// Package admin owns the admin API under /admin, for the holder of the
// static admin token (AUTHD_ADMIN_TOKEN): a subject's grants listed, counted
// and revoked, one grant revoked, and users created, read, changed, disabled
// and deleted through the user service the CLI shares (package users).
// Without a token configured the API does not exist (404). Every list is
// paginated (page.go); openapi.json, served at /admin/openapi.json, describes
// every route. Grants themselves live in package grants.
package admin
