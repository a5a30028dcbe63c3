// Command bench is authd's load generator (`make bench`, or `go run ./bench`).
//
// It builds and starts its own authd (`authd serve` as a child process on a
// free loopback port, in a fresh Postgres schema and Redis key prefix, with a
// generated AUTHD_SECRET), registers users and clients with the authd CLI,
// mints tokens through the public endpoints, and then drives each scenario
// at a fixed concurrency over keep-alive connections:
//
//	hello       a trivial net/http handler in this process: the ceiling of
//	            this machine's HTTP stack and of this load generator
//	cc          client_credentials token requests (HTTP Basic)
//	cc-jwt      the same for a client with --access-token-format jwt (ES256
//	            RFC 9068 access tokens)
//	introspect  RFC 7662 introspection of pre-minted user access tokens,
//	            round robin, by an authenticated resource server
//	refresh     every worker follows its own rotating refresh-token chain
//	            (minted through the authorization code flow), scope
//	            "openid offline_access" (-refresh-scope): every refresh also
//	            signs a new ID token
//	refresh-noid  the same with scope "offline_access" (no ID token)
//	refresh-jwt refresh-noid for a public client with --access-token-format jwt
//	revoke      RFC 7009 revocation of pre-minted refresh tokens (each one
//	            revokes a user's grant: Redis script + Postgres update)
//	jwks        GET /.well-known/jwks.json
//	authcode    a whole sign-in per iteration with a fresh cookie jar:
//	            authorize, login form (argon2id password check), consent
//	            (remembered after the first per user), code exchange with PKCE
//	memory      not a load test: loads N refresh sessions (grant row, family
//	            and access token) through the storage adapter and reports
//	            Redis bytes per session and Postgres bytes per grants row
//	scale       not a load test, not in the default list: 1,000,000 grants
//	            (-scale-grants) and their families; admin list/count/revoke
//	            latency through authd, janitor cost by rows removed and by
//	            table size, bytes per row, EXPLAIN of the list query
//
// It prints a Markdown table: req/s, the ratio to hello at the same
// concurrency, latency percentiles, errors by status, and where the CPU went
// during the measured window (authd, this process, redis-server, postgres,
// everything else on the machine), in cores.
package main
