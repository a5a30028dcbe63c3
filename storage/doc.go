// Package storage owns authd's records (clients, users, grants, signing keys,
// consents) and how secrets are kept at rest. Its sub-packages keep them:
// postgres holds the durable records, redisstore the short-lived token
// sessions, and fositestore adapts both to fosite's storage interfaces.
package storage
