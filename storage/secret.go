package storage

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/crypto/argon2"
)

// ErrSecretMismatch: the password or client secret does not match the stored
// hash.
var ErrSecretMismatch = errors.New("storage: secret does not match")

// ErrSecretChecksBusy: every slot for slow (argon2id) client-secret checks
// stayed taken for the whole bounded wait. It says nothing about the
// secret: the caller answers "retry later" (503), never "wrong secret".
var ErrSecretChecksBusy = errors.New("storage: client secret checks saturated")

// ErrMalformedHash: a stored hash cannot be parsed (corrupt row, unknown
// scheme, or parameters outside the accepted bounds). It is an internal
// error, never a user mistake.
var ErrMalformedHash = errors.New("storage: malformed secret hash")

// argon2id parameters for new hashes: the OWASP minimum (m=19 MiB, t=2, p=1).
// Verification reads the parameters from the stored string, so they can be
// raised later without invalidating existing hashes.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on parameters read back from a stored hash, so a corrupt or hostile
// row cannot make verification allocate gigabytes or spin for minutes.
const (
	maxArgonMemory  = 1 << 20 // KiB (1 GiB)
	maxArgonTime    = 64
	minArgonSaltLen = 8
	minArgonKeyLen  = 16
	maxArgonKeyLen  = 128
)

var b64 = base64.RawStdEncoding

// HashPassword hashes pw with argon2id and a fresh 16-byte salt. The result is
// a PHC string: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (raw std base64).
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("storage: read salt: %w", err)
	}
	p := argonParams{memory: argonMemory, time: argonTime, threads: argonThreads}
	key := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, argonKeyLen)
	return p.encode(salt, key), nil
}

// VerifyPassword reports whether pw matches hash (from HashPassword). It
// returns (false, nil) on a mismatch and an error wrapping ErrMalformedHash
// when hash cannot be parsed. The comparison is constant time.
//
// Callers that look a user up by name should still run a verification when
// the user does not exist (against any fixed hash), so response time does not
// reveal which usernames exist.
func VerifyPassword(hash, pw string) (bool, error) {
	p, salt, key, err := parseArgon2id(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
}

func (p argonParams) encode(salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parseArgon2id parses a PHC argon2id string and checks every parameter
// against the bounds above, so no input can panic argon2 or exhaust memory.
func parseArgon2id(s string) (p argonParams, salt, key []byte, err error) {
	malformed := func(why string) error { return fmt.Errorf("%w: argon2id: %s", ErrMalformedHash, why) }

	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, malformed("not a $argon2id$ PHC string")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, malformed("unsupported version " + strconv.Quote(parts[2]))
	}
	var seen [3]bool
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, malformed("bad parameter " + strconv.Quote(kv))
		}
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return p, nil, nil, malformed("bad parameter " + strconv.Quote(kv))
		}
		switch k {
		case "m":
			p.memory, seen[0] = uint32(n), true
		case "t":
			p.time, seen[1] = uint32(n), true
		case "p":
			if n > 255 {
				return p, nil, nil, malformed("parallelism out of range")
			}
			p.threads, seen[2] = uint8(n), true
		default:
			return p, nil, nil, malformed("unknown parameter " + strconv.Quote(k))
		}
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return p, nil, nil, malformed("missing m, t or p")
	}
	switch {
	case p.threads < 1:
		return p, nil, nil, malformed("parallelism must be at least 1")
	case p.time < 1 || p.time > maxArgonTime:
		return p, nil, nil, malformed("time cost out of range")
	case p.memory < 8*uint32(p.threads) || p.memory > maxArgonMemory:
		return p, nil, nil, malformed("memory cost out of range")
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < minArgonSaltLen {
		return p, nil, nil, malformed("bad salt")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < minArgonKeyLen || len(key) > maxArgonKeyLen {
		return p, nil, nil, malformed("bad key")
	}
	return p, salt, key, nil
}

// clientSecretBytes is the entropy of a generated client secret; encoded as
// unpadded base64url it is exactly generatedSecretLen characters.
const (
	clientSecretBytes  = 32
	generatedSecretLen = 43
	sha256Prefix       = "sha256$"
)

// GenerateClientSecret returns a new client secret: 32 bytes from crypto/rand,
// base64url without padding (43 characters).
func GenerateClientSecret() string {
	b := make([]byte, clientSecretBytes)
	_, _ = rand.Read(b) // never fails (Go 1.24+ crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashClientSecret returns the at-rest form of a client secret, to store in
// Client.SecretHash. Two schemes are used:
//
//   - A secret of the shape GenerateClientSecret produces (43 base64url
//     characters that decode canonically to 32 bytes) is stored as
//     "sha256$" + base64url(SHA-256(secret)). A slow, salted hash exists to
//     make guessing a low-entropy secret expensive; a 256-bit random secret
//     cannot be guessed at any speed (2^256 candidates), and preimage
//     resistance of SHA-256 means a leaked hash does not reveal it. Salting
//     is unnecessary because no two secrets collide and there is no
//     dictionary to precompute. This keeps client authentication, which runs
//     on every token request, cheap (no 19 MiB allocation per request).
//   - Any other secret (operator-chosen, so possibly guessable) gets argon2id,
//     exactly as HashPassword.
//
// The caveat: an operator-chosen secret that happens to be 43 base64url
// characters is also stored with SHA-256. Secrets of that exact shape are
// almost always generated; operators should use GenerateClientSecret.
//
// The scheme is recorded in the hash itself, so VerifyClientSecret needs no
// other input and the choice can change later.
func HashClientSecret(secret string) ([]byte, error) {
	if looksGenerated(secret) {
		sum := sha256.Sum256([]byte(secret))
		return []byte(sha256Prefix + base64.RawURLEncoding.EncodeToString(sum[:])), nil
	}
	h, err := HashPassword(secret)
	if err != nil {
		return nil, err
	}
	return []byte(h), nil
}

// looksGenerated reports whether s has exactly the shape of
// GenerateClientSecret's output.
func looksGenerated(s string) bool {
	if len(s) != generatedSecretLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == clientSecretBytes
}

// VerifyClientSecret checks secret against hash (from HashClientSecret),
// choosing the scheme by the hash's prefix. It returns nil on a match,
// ErrSecretMismatch on a mismatch and an error wrapping ErrMalformedHash when
// the hash cannot be parsed (including an empty hash: public clients have no
// secret to verify). Comparisons are constant time.
func VerifyClientSecret(hash []byte, secret string) error {
	h := string(hash)
	switch {
	case strings.HasPrefix(h, sha256Prefix):
		want, err := base64.RawURLEncoding.DecodeString(h[len(sha256Prefix):])
		if err != nil || len(want) != sha256.Size {
			return fmt.Errorf("%w: sha256: bad digest", ErrMalformedHash)
		}
		got := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(got[:], want) != 1 {
			return ErrSecretMismatch
		}
		return nil
	case strings.HasPrefix(h, "$argon2id$"):
		ok, err := VerifyPassword(h, secret)
		if err != nil {
			return err
		}
		if !ok {
			return ErrSecretMismatch
		}
		return nil
	case h == "":
		return fmt.Errorf("%w: empty", ErrMalformedHash)
	default:
		return fmt.Errorf("%w: unknown scheme", ErrMalformedHash)
	}
}

// VerifiedSecretCache remembers, for a short time, client secrets that
// passed a slow (argon2id) verification, so an operator-chosen secret does
// not cost ~35 ms of CPU on every token or introspection call. Fast
// (sha256) hashes are never cached: they are cheaper than the cache.
//
// What it keeps is an HMAC, under a random per-process key, of the stored
// hash and the presented secret: never the secret. Only successes are
// cached, so guessing still pays the full hash (and the rate limiter); an
// entry names the stored hash, so a changed secret misses at once; entries
// expire after ttl and the cache is bounded to size entries.
//
// Slow verifications that miss the cache run in at most GOMAXPROCS slots
// (as sign-in's password checks do): each takes 19 MiB and ~35 ms of a
// core, so more at once only grows memory (200 concurrent wrong secrets
// took 2 GiB) and latency, never throughput. A check waits at most
// slotWait for a slot, then fails with ErrSecretChecksBusy.
type VerifiedSecretCache struct {
	key      []byte
	cache    *expirable.LRU[string, struct{}]
	slots    chan struct{}
	slotWait time.Duration
}

// secretSlotWait bounds how long a slow client-secret check queues.
const secretSlotWait = 2 * time.Second

// NewVerifiedSecretCache returns a cache of at most size entries kept ttl.
func NewVerifiedSecretCache(size int, ttl time.Duration) *VerifiedSecretCache {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return &VerifiedSecretCache{key: key, cache: expirable.NewLRU[string, struct{}](size, nil, ttl),
		slots: make(chan struct{}, runtime.GOMAXPROCS(0)), slotWait: secretSlotWait}
}

func (c *VerifiedSecretCache) entry(hash, secret []byte) string {
	m := hmac.New(sha256.New, c.key)
	m.Write(hash)
	m.Write([]byte{0})
	m.Write(secret)
	return string(m.Sum(nil))
}

// Hash returns the at-rest form of the secret data.
func (c *VerifiedSecretCache) Hash(ctx context.Context, data []byte) ([]byte, error) {
	return HashClientSecret(string(data))
}

// Compare is VerifyClientSecret, answered from the cache for a slow hash
// verified within the TTL; a slow verification waits for a slot (bounded:
// ErrSecretChecksBusy, or ctx's error when the request ends first).
func (c *VerifiedSecretCache) Compare(ctx context.Context, hash, data []byte) error {
	if bytes.HasPrefix(hash, []byte(sha256Prefix)) {
		return VerifyClientSecret(hash, string(data))
	}
	k := c.entry(hash, data)
	if _, ok := c.cache.Get(k); ok {
		return nil
	}
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer func() { <-c.slots }()
	if err := VerifyClientSecret(hash, string(data)); err != nil {
		return err
	}
	c.cache.Add(k, struct{}{})
	return nil
}

// acquire takes a slot for one slow verification, waiting at most slotWait.
func (c *VerifiedSecretCache) acquire(ctx context.Context) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	default:
	}
	wait := time.NewTimer(c.slotWait)
	defer wait.Stop()
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-wait.C:
		return ErrSecretChecksBusy
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrSecretChecksBusy, ctx.Err())
	}
}
