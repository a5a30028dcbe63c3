// Package admin owns the admin API under /admin, for the holder of the
// static admin token (AUTHD_ADMIN_TOKEN): a subject's grants listed, counted
// and revoked, one grant revoked, a subject's browser sessions listed and
// ended (package sessions); users created, read, changed, disabled and
// deleted through the user service the CLI shares (package users); clients
// registered, read, replaced, deleted and their secrets rotated through the
// client lifecycle the CLI and registration share (package clients), with
// RFC 7591 metadata. Without a token configured the API does not exist
// (404). Every list is paginated (page.go); openapi.json, served at
// /admin/openapi.json, describes every route.
package admin
