package storage_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/authd/authd/storage"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := storage.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q: want argon2id PHC string with OWASP parameters", h)
	}
	if ok, err := storage.VerifyPassword(h, "correct horse"); err != nil || !ok {
		t.Fatalf("VerifyPassword(right) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := storage.VerifyPassword(h, "correct horsf"); err != nil || ok {
		t.Fatalf("VerifyPassword(wrong) = %v, %v; want false, nil", ok, err)
	}
	h2, _ := storage.HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of the same password are equal: salt not random")
	}
}

func TestPasswordParamsReadFromHash(t *testing.T) {
	// A hash made with other parameters (as after raising them, or before)
	// must still verify: they are read from the string, not assumed.
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("pw"), salt, 1, 8192, 2, 24)
	b64 := base64.RawStdEncoding
	h := "$argon2id$v=19$m=8192,t=1,p=2$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
	if ok, err := storage.VerifyPassword(h, "pw"); err != nil || !ok {
		t.Fatalf("VerifyPassword(other params, right) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := storage.VerifyPassword(h, "px"); err != nil || ok {
		t.Fatalf("VerifyPassword(other params, wrong) = %v, %v; want false, nil", ok, err)
	}
}

func TestMalformedHashes(t *testing.T) {
	good, _ := storage.HashPassword("pw")
	salt := strings.Split(good, "$")[4]
	key := strings.Split(good, "$")[5]
	for name, h := range map[string]string{
		"empty":          "",
		"garbage":        "not a hash",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":        "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"wrong version":  "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"missing part":   "$argon2id$v=19$m=19456,t=2,p=1$" + salt,
		"extra part":     good + "$x",
		"zero threads":   "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key,
		"zero time":      "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"huge memory":    "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key,
		"huge threads":   "$argon2id$v=19$m=19456,t=2,p=256$" + salt + "$" + key,
		"negative":       "$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key,
		"missing param":  "$argon2id$v=19$m=19456,t=2$" + salt + "$" + key,
		"unknown param":  "$argon2id$v=19$m=19456,t=2,p=1,x=1$" + salt + "$" + key,
		"no equals":      "$argon2id$v=19$m19456,t=2,p=1$" + salt + "$" + key,
		"bad salt b64":   "$argon2id$v=19$m=19456,t=2,p=1$!!!!$" + key,
		"short salt":     "$argon2id$v=19$m=19456,t=2,p=1$YWJj$" + key,
		"empty key":      "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$",
		"bad key b64":    "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$@@@@",
		"sha256 short":   "sha256$abc",
		"sha256 bad b64": "sha256$" + strings.Repeat("!", 43),
		"sha256 empty":   "sha256$",
	} {
		t.Run(name, func(t *testing.T) {
			err := storage.VerifyClientSecret([]byte(h), "pw")
			if !errors.Is(err, storage.ErrMalformedHash) {
				t.Errorf("VerifyClientSecret: err = %v; want ErrMalformedHash", err)
			}
			if strings.HasPrefix(h, "sha256$") {
				return
			}
			if ok, err := storage.VerifyPassword(h, "pw"); ok || !errors.Is(err, storage.ErrMalformedHash) {
				t.Errorf("VerifyPassword = %v, %v; want false, ErrMalformedHash", ok, err)
			}
		})
	}
}

func TestClientSecret(t *testing.T) {
	generated := storage.GenerateClientSecret()
	if len(generated) != 43 {
		t.Fatalf("GenerateClientSecret length = %d; want 43", len(generated))
	}
	if generated == storage.GenerateClientSecret() {
		t.Fatal("two generated secrets are equal")
	}

	tests := []struct {
		name       string
		secret     string
		wantPrefix string
	}{
		{"generated uses sha256", generated, "sha256$"},
		{"short operator secret uses argon2id", "hunter2", "$argon2id$"},
		{"43 chars but not base64url uses argon2id", strings.Repeat("a", 42) + "!", "$argon2id$"},
		{"44 base64url chars uses argon2id", generated + "A", "$argon2id$"},
		{"42 base64url chars uses argon2id", generated[:42], "$argon2id$"},
		// The last of 43 characters encoding 32 bytes carries 2 zero pad
		// bits, so it is one of AEIMQUYcgkosw048; "B" is never produced.
		{"non-canonical encoding uses argon2id", generated[:42] + "B", "$argon2id$"},
		{"empty uses argon2id", "", "$argon2id$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := storage.HashClientSecret(tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(h), tt.wantPrefix) {
				t.Fatalf("HashClientSecret(%q) = %q; want prefix %q", tt.secret, h, tt.wantPrefix)
			}
			if err := storage.VerifyClientSecret(h, tt.secret); err != nil {
				t.Fatalf("VerifyClientSecret(right) = %v", err)
			}
			if err := storage.VerifyClientSecret(h, tt.secret+"x"); !errors.Is(err, storage.ErrSecretMismatch) {
				t.Fatalf("VerifyClientSecret(wrong) = %v; want ErrSecretMismatch", err)
			}
		})
	}
}

func TestSHA256HashIsDeterministicAndUnsalted(t *testing.T) {
	s := storage.GenerateClientSecret()
	a, _ := storage.HashClientSecret(s)
	b, _ := storage.HashClientSecret(s)
	if string(a) != string(b) {
		t.Fatalf("sha256 hashes differ: %q vs %q", a, b)
	}
	if strings.Contains(string(a), s) {
		t.Fatal("hash contains the secret")
	}
	other, _ := storage.HashClientSecret(storage.GenerateClientSecret())
	if err := storage.VerifyClientSecret(other, s); !errors.Is(err, storage.ErrSecretMismatch) {
		t.Fatalf("verify against another secret's hash = %v; want ErrSecretMismatch", err)
	}
}
