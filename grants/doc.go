// Package grants owns a grant's life after its birth: revoking it (the
// token family in Redis, with its tombstone, then the Postgres row, each
// exactly once), revoking all of a subject's grants, listing and counting
// them by one rule of what is active, recording and flushing their usage,
// and the janitor pass that marks grants whose family is gone and deletes
// long-ended ones.
//
// A grant is born in storage/fositestore (its row, then its family, at the
// first token of a code or device exchange). Everything that ends one calls
// Manager: the protocol (RFC 7009 revocation, authorization code replay,
// refresh token reuse, through fositestore's Revoker), the account area and
// the devices page, the admin API, the CLI, the janitor, the sessions home
// (a session's end revokes its online grants) and the user and client
// lifecycles (packages users and clients).
//
// Manager takes the small interfaces declared here (Families, Pending,
// Records, Sweeper, ClientNames); *redisstore.Store and *postgres.DB
// implement them.
package grants
