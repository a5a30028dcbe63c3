// Package keys owns authd's JWS signing keys and the sealing of secrets at
// rest: it generates signing keys, seals their private halves under the
// system secret, rotates and retires them (AutoRotate), and publishes the
// public halves as a JWKS document. Its Sealer (AES-256-GCM under a key
// derived from the system secret per purpose) also seals the refresh retry
// window's kept responses (package oauth).
//
// A Manager keeps an immutable in-memory snapshot of the keys, rebuilt by
// Load (and by EnsureKey, Rotate and AutoRotate, and periodically by
// Refresh, which picks up what other replicas or the CLI changed), so the
// hot paths — Signer, PublicKey, JWKS and ServeJWKS — never touch the
// database.
//
// Signers are handed out as raw *rsa.PrivateKey / *ecdsa.PrivateKey values:
// fosite v0.49 signs with go-jose v3 and rejects go-jose v4 keys, so the
// caller passes the raw key to fosite and sets the kid header itself. go-jose
// v4 is used here only to publish the JWKS and to hand out the public key of
// a kid (PublicKey) for verification.
//
// Key lifecycle: a key is published in the JWKS from CreatedAt, signs new
// tokens from ActiveAt on (until a later key becomes active), and is dropped
// from the JWKS — so tokens it signed stop verifying — once retired
// (AutoRotate retires a key RetireAfter its successor became active). Rotate
// with a lead time so relying parties fetch the new key before it signs.
package keys
