// Package keys owns authd's JWS signing keys: it generates them, seals their
// private halves at rest under the system secret, rotates and retires them,
// and publishes the public halves as a JWKS document.
//
// A Manager keeps an immutable in-memory snapshot of the keys, rebuilt by
// Load (and by the mutating methods, and periodically by Refresh), so the hot
// paths — Signer, PublicKey, VerificationKeys, JWKS and ServeJWKS — never
// touch the database.
//
// Signers are handed out as raw *rsa.PrivateKey / *ecdsa.PrivateKey values:
// fosite v0.49 signs with go-jose v3 and rejects go-jose v4 keys, so the
// caller passes the raw key to fosite and sets the kid header itself. go-jose
// v4 is used here only to publish the JWKS and to verify.
//
// Key lifecycle: a key is published in the JWKS from CreatedAt, signs new
// tokens from ActiveAt on (until a later key becomes active), and is dropped
// from the JWKS — so tokens it signed stop verifying — once retired. Rotate
// with a lead time so relying parties fetch the new key before it signs.
package keys
