package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/authd/authd/ratelimit"
)

// Config is authd's configuration, read from AUTHD_* environment variables.
type Config struct {
	Issuer          string
	Addr            string
	RedisURL        string
	RedisPrefix     string
	DatabaseURL     string
	DatabaseSchema  string
	Secret          []byte
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	AuthCodeTTL     time.Duration
	// DeviceCodeTTL: lifetime of RFC 8628 device and user codes.
	DeviceCodeTTL time.Duration
	LogLevel      string
	// AdminToken enables the /admin API (bearer token); empty disables it.
	AdminToken string
	// RefreshRetryWindow: AUTHD_REFRESH_RETRY_WINDOW, 0 (default) is off.
	RefreshRetryWindow time.Duration
	// UsageFlushInterval: how often refresh metadata recorded in Redis is
	// written to Postgres (0 means 5s).
	UsageFlushInterval time.Duration
	// JanitorInterval: how often serve runs the janitor (0 disables it).
	JanitorInterval time.Duration
	// GrantRetention: ended grants are deleted this long after they ended
	// (0 means 30 days).
	GrantRetention time.Duration
	// ClientCacheTTL: how long a replica trusts its cached copy of a client
	// (0 means 10s); a deleted client stops working everywhere within it.
	ClientCacheTTL time.Duration
	// RateLimit bounds failed client authentications and sign-ins
	// (AUTHD_RATE_LIMIT_*, ratelimit.go); the zero value means the defaults.
	RateLimit ratelimit.Config
	// NoRedisAutoPipeline: AUTHD_REDIS_AUTOPIPELINE=off. On by default,
	// concurrent requests' hot-path reads go to Redis in shared pipelines
	// (redisstore.Store.AutoPipelineReads).
	NoRedisAutoPipeline bool
	// KeyRotation: add a new signing key when the newest is this old (0: off).
	KeyRotation time.Duration
	keyTimes    keyTiming // tests shorten the key intervals (keyrotation.go)
}

// envConfig reads the environment; Validate reports every problem at once.
func envConfig() (Config, error) {
	c := Config{
		Issuer:         getenv("AUTHD_ISSUER", "http://127.0.0.1:8080"),
		Addr:           getenv("AUTHD_ADDR", "127.0.0.1:8080"),
		RedisURL:       getenv("AUTHD_REDIS_URL", "redis://127.0.0.1:6390/0"),
		RedisPrefix:    getenv("AUTHD_REDIS_PREFIX", "authd:"),
		DatabaseURL:    getenv("AUTHD_DATABASE_URL", "postgres://postgres@127.0.0.1:5440/authd?sslmode=disable"),
		DatabaseSchema: os.Getenv("AUTHD_DATABASE_SCHEMA"),
		Secret:         []byte(os.Getenv("AUTHD_SECRET")),
		LogLevel:       getenv("AUTHD_LOG_LEVEL", "info"),
		AdminToken:     os.Getenv("AUTHD_ADMIN_TOKEN"),
	}
	var errs []error
	dur := func(name string, def time.Duration) time.Duration {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration (e.g. 1h, 720h)", name, v))
			return def
		}
		return d
	}
	c.AccessTokenTTL = dur("AUTHD_ACCESS_TOKEN_TTL", time.Hour)
	c.RefreshTokenTTL = dur("AUTHD_REFRESH_TOKEN_TTL", 30*24*time.Hour)
	c.AuthCodeTTL = dur("AUTHD_AUTH_CODE_TTL", 10*time.Minute)
	c.UsageFlushInterval = dur("AUTHD_USAGE_FLUSH_INTERVAL", 5*time.Second)
	c.JanitorInterval = dur("AUTHD_JANITOR_INTERVAL", time.Hour)
	c.GrantRetention = dur("AUTHD_GRANT_RETENTION", 30*24*time.Hour)
	c.ClientCacheTTL = dur("AUTHD_CLIENT_CACHE_TTL", 10*time.Second)
	c.KeyRotation = dur("AUTHD_KEY_ROTATION", 0)
	c.DeviceCodeTTL = dur("AUTHD_DEVICE_CODE_TTL", 10*time.Minute)
	c.RateLimit = rateLimitFromEnv(&errs)
	switch v := os.Getenv("AUTHD_REDIS_AUTOPIPELINE"); strings.ToLower(v) {
	case "", "on", "true", "1":
	case "off", "false", "0":
		c.NoRedisAutoPipeline = true
	default:
		errs = append(errs, fmt.Errorf("AUTHD_REDIS_AUTOPIPELINE: %q is neither on nor off", v))
	}
	if v := os.Getenv("AUTHD_REFRESH_RETRY_WINDOW"); v != "" && v != "0" {
		c.RefreshRetryWindow = dur("AUTHD_REFRESH_RETRY_WINDOW", 0)
	}
	return c, errors.Join(errs...)
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// ValidateServe checks what `serve` needs, reporting every problem at once.
func (c Config) ValidateServe() error {
	var errs []error
	checks := []struct {
		bad bool
		msg string
	}{
		{len(c.Secret) < 32, "AUTHD_SECRET must be set to at least 32 bytes (make run generates one for development)"},
		{!validIssuer(c.Issuer), "AUTHD_ISSUER must be an absolute http(s) URL without query or fragment, and https unless the host is loopback"},
		{c.Addr == "", "AUTHD_ADDR must not be empty"},
		{c.AuthCodeTTL > time.Hour, "AUTHD_AUTH_CODE_TTL should be short (at most 1h)"},
		{c.DeviceCodeTTL > time.Hour, "AUTHD_DEVICE_CODE_TTL should be short (at most 1h)"},
		{c.AccessTokenTTL > c.RefreshTokenTTL, "AUTHD_ACCESS_TOKEN_TTL must not exceed AUTHD_REFRESH_TOKEN_TTL"},
		{c.keyRotationInvalid(), "AUTHD_KEY_ROTATION must be unset or at least twice the rotation lead (12m); e.g. 720h"},
		{c.RefreshRetryWindow > time.Minute, "AUTHD_REFRESH_RETRY_WINDOW must be short (at most 1m): it is a retry allowance, not a grace period"},
		{c.AdminToken != "" && len(c.AdminToken) < 32, "AUTHD_ADMIN_TOKEN must be at least 32 characters when set"},
	}
	for _, ch := range checks {
		if ch.bad {
			errs = append(errs, errors.New(ch.msg))
		}
	}
	return errors.Join(errs...)
}

func validIssuer(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "/") {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	h := u.Hostname()
	return u.Scheme == "http" && (h == "localhost" || h == "127.0.0.1" || h == "::1" || os.Getenv("AUTHD_ALLOW_HTTP_ISSUER") == "1")
}
