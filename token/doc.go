// Package token owns authd's opaque token format,
// authd_<kind>_<grant>.<gen>.<random>.<mac>, and its MAC: generating tokens,
// verifying them, and parsing the signatures storage is keyed by.
//
// A token's kind is "ac" (authorization code), "at" (access token), "rt"
// (refresh token) or "dc" (RFC 8628 device code). mac is an HMAC-SHA256 over
// everything before it under a key derived from the system secret. A
// token's signature, <grant>.<gen>.<mac>, is what storage keys it by: the
// grant id lets every key of a grant share one Redis hash tag, the
// generation lets storage tell a rotated-away refresh token (reuse) from a
// forged one. Strategy implements fosite's authorization code, access token
// and refresh token strategies over this format.
package token
