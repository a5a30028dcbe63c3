package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/logout"
	"github.com/authd/authd/ratelimit"
	dynreg "github.com/authd/authd/registration"
)

// Config is authd's configuration, read from AUTHD_* environment variables
// (settings below: one row per variable, with its default and meaning).
type Config struct {
	Issuer string
	// AllowHTTPIssuer: AUTHD_ALLOW_HTTP_ISSUER, an http issuer on a host
	// other than loopback (behind a TLS-terminating proxy on a private net).
	AllowHTTPIssuer bool
	Addr            string
	RedisURL        string
	RedisPrefix     string
	DatabaseURL     string
	DatabaseSchema  string
	Secret          []byte
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	AuthCodeTTL     time.Duration
	// IDTokenTTL: AUTHD_ID_TOKEN_TTL, the ID token lifetime.
	IDTokenTTL time.Duration
	// DeviceCodeTTL: lifetime of RFC 8628 device and user codes.
	DeviceCodeTTL time.Duration
	LogLevel      string
	// AdminToken enables the /admin API (bearer token); empty disables it.
	AdminToken string
	// RefreshRetryWindow: AUTHD_REFRESH_RETRY_WINDOW, 0 (the default) is off.
	RefreshRetryWindow time.Duration
	// UsageFlushInterval: how often refresh metadata recorded in Redis is
	// written to Postgres (positive).
	UsageFlushInterval time.Duration
	// JanitorInterval: how often serve runs the janitor (0 disables it).
	JanitorInterval time.Duration
	// GrantRetention: ended grants are deleted this long after they ended
	// (positive).
	GrantRetention time.Duration
	// ClientCacheTTL: how long a replica trusts its cached copy of a client
	// (positive); a deleted client stops working everywhere within it.
	ClientCacheTTL time.Duration
	// RateLimit bounds failed client authentications and sign-ins
	// (AUTHD_RATE_LIMIT_*); Failures < 0 disables the limiter.
	RateLimit ratelimit.Config
	// RateLimitMaxDelay: AUTHD_RATE_LIMIT_MAX_DELAY, the longest account-wide
	// slowdown (ratelimit.Config.MaxDelay; 0 is none).
	RateLimitMaxDelay time.Duration
	// DeviceAuthRate: device authorization requests a minute per client and
	// source address (AUTHD_DEVICE_AUTH_RATE; 0 is unlimited).
	DeviceAuthRate int
	// DeviceCodeFailures wrong user codes per source address (and per
	// sign-in session) within DeviceCodeWindow before the device page
	// refuses (AUTHD_DEVICE_CODE_FAILURES, AUTHD_DEVICE_CODE_WINDOW).
	DeviceCodeFailures int
	DeviceCodeWindow   time.Duration
	// NoRedisAutoPipeline: AUTHD_REDIS_AUTOPIPELINE=off. On by default,
	// concurrent requests' hot-path reads go to Redis in shared pipelines
	// (redisstore.Store.AutoPipelineReads).
	NoRedisAutoPipeline bool
	// KeyRotation: add a new signing key when the newest is this old (0: off).
	KeyRotation time.Duration
	// Proxies: AUTHD_TRUSTED_PROXIES and AUTHD_TRUSTED_PROXY_HEADER, whose
	// forwarding header gives the client address (httpx.ClientIP).
	Proxies httpx.Proxies
	// backchannelBackoff: the back-channel logout retry schedule (not a
	// setting: tests shorten it; zero is the package's default).
	backchannelBackoff logout.Backoff
	// sessionSweepInterval: how often serve ends expired browser sessions
	// (not a setting: tests shorten it; zero is defaultSessionSweep,
	// negative never).
	sessionSweepInterval time.Duration
	// SessionTTL: AUTHD_SESSION_TTL, the absolute lifetime of a sign-in.
	SessionTTL time.Duration
	// SessionIdleTimeout: AUTHD_SESSION_IDLE_TIMEOUT, a sign-in unused this
	// long ends (0: only SessionTTL ends it).
	SessionIdleTimeout time.Duration
	// AdminAddr: AUTHD_ADMIN_ADDR, a separate listener for /metrics and
	// /admin/* (empty: both on the public listener).
	AdminAddr string
	// Registration: AUTHD_REGISTRATION, who may register clients (RFC 7591);
	// RegistrationToken the initial access token of token mode;
	// RegistrationRate registrations an hour per source address.
	Registration      dynreg.Mode
	RegistrationToken string
	RegistrationRate  int
	// ClientIDMetadataDocuments: AUTHD_CLIENT_ID_METADATA_DOCUMENTS, https
	// client ids resolved by fetching their document; ClientIDMetadataAllowPrivate
	// (AUTHD_CLIENT_ID_METADATA_ALLOW_PRIVATE, tests and development only)
	// lets them be fetched from loopback and private addresses.
	ClientIDMetadataDocuments    bool
	ClientIDMetadataAllowPrivate bool
	keyTimes                     keyTiming        // tests shorten the key intervals (keyrotation.go)
	clientDocs                   clientDocTesting // tests trust their document server and move its clock (clientdocs.go)
}

// maxUsageFlushInterval keeps the usage flush far inside the TTL of the
// Redis usage buffers (redisstore.UsageTTL, a week), so pending usage is
// always taken before it could expire.
const maxUsageFlushInterval = 24 * time.Hour

// setting is one AUTHD_* variable: its name, what an unset (or empty)
// variable means, the parser that sets its Config field, and its meaning.
// The README's Configuration table lists the same rows (TestConfigREADME).
type setting struct {
	name  string
	def   string // "" : no default (the field stays empty)
	parse func(string) error
	doc   string
}

// settings is the configuration table, bound to the Config it fills.
func settings(c *Config) []setting {
	rl := &c.RateLimit
	return []setting{
		{"AUTHD_ISSUER", "http://127.0.0.1:8080", text(&c.Issuer), "issuer URL; must be https unless the host is loopback (or AUTHD_ALLOW_HTTP_ISSUER is on)"},
		{"AUTHD_ALLOW_HTTP_ISSUER", "off", onOff(&c.AllowHTTPIssuer), "on (or 1): accept an http issuer on a host that is not loopback"},
		{"AUTHD_ADDR", "127.0.0.1:8080", text(&c.Addr), "listen address"},
		{"AUTHD_REDIS_URL", "redis://127.0.0.1:6390/0", text(&c.RedisURL), "Redis: redis://, redis+cluster:// or redis+sentinel:// (rediss for TLS)"},
		{"AUTHD_REDIS_PREFIX", "authd:", text(&c.RedisPrefix), "prefix of every Redis key"},
		{"AUTHD_REDIS_AUTOPIPELINE", "on", offSwitch(&c.NoRedisAutoPipeline), "off sends every Redis read on its own; on batches concurrent hot-path reads"},
		{"AUTHD_DATABASE_URL", "postgres://postgres@127.0.0.1:5440/authd?sslmode=disable", text(&c.DatabaseURL), "Postgres"},
		{"AUTHD_DATABASE_SCHEMA", "", text(&c.DatabaseSchema), "Postgres schema to use (search_path default when unset)"},
		{"AUTHD_SECRET", "", secret(&c.Secret), "system secret, at least 32 bytes"},
		{"AUTHD_ACCESS_TOKEN_TTL", "1h", positive(&c.AccessTokenTTL, "1h, 720h"), "access token lifetime"},
		{"AUTHD_REFRESH_TOKEN_TTL", "720h", positive(&c.RefreshTokenTTL, "1h, 720h"), "refresh token lifetime"},
		{"AUTHD_AUTH_CODE_TTL", "10m", positive(&c.AuthCodeTTL, "1h, 720h"), "authorization code lifetime"},
		{"AUTHD_ID_TOKEN_TTL", "1h", positive(&c.IDTokenTTL, "1h, 720h"), "ID token lifetime"},
		{"AUTHD_DEVICE_CODE_TTL", "10m", positive(&c.DeviceCodeTTL, "1h, 720h"), "device and user code lifetime (at most 1h)"},
		{"AUTHD_LOG_LEVEL", "info", logLevel(&c.LogLevel), "debug, info, warn or error"},
		{"AUTHD_CLIENT_CACHE_TTL", "10s", positive(&c.ClientCacheTTL, "1h, 720h"), "how long a replica caches a client record"},
		{"AUTHD_KEY_ROTATION", "0", orOff(&c.KeyRotation), "rotate the signing key when the newest is this old; 0 is off"},
		{"AUTHD_ADMIN_TOKEN", "", text(&c.AdminToken), "bearer token of the /admin API (at least 32 characters); unset, the API is off"},
		{"AUTHD_REFRESH_RETRY_WINDOW", "0", orOff(&c.RefreshRetryWindow), "at most 1m: a retry with a just-rotated refresh token gets the same response; 0 is off"},
		{"AUTHD_USAGE_FLUSH_INTERVAL", "5s", positive(&c.UsageFlushInterval, "1h, 720h"), "how often refresh metadata is written to the grants table (at most 24h)"},
		{"AUTHD_JANITOR_INTERVAL", "1h", orOff(&c.JanitorInterval), "how often serve runs the janitor; 0 is never (run authd janitor from cron)"},
		{"AUTHD_GRANT_RETENTION", "720h", positive(&c.GrantRetention, "1h, 720h"), "ended grants are deleted this long after they ended"},
		{"AUTHD_RATE_LIMIT_FAILURES", "10", failures(&rl.Failures), "failures per client id / username per window before a block; 0 disables the limiter"},
		{"AUTHD_RATE_LIMIT_IP_FAILURES", "50", count(&rl.IPFailures), "failures per client IP address per window (positive)"},
		{"AUTHD_RATE_LIMIT_WINDOW", "1m", positive(&rl.Window, "1m"), "failure counting window and first block"},
		{"AUTHD_RATE_LIMIT_MAX_WINDOW", "1h", positive(&rl.MaxWindow, "1m"), "longest block (blocks double up to it)"},
		{"AUTHD_RATE_LIMIT_MAX_DELAY", "3s", orOff(&c.RateLimitMaxDelay), "longest slowdown of an account failing from many addresses; 0 is none"},
		{"AUTHD_DEVICE_AUTH_RATE", "100", countOrOff(&c.DeviceAuthRate), "device authorization requests a minute per client and address; 0 is unbounded"},
		{"AUTHD_DEVICE_CODE_FAILURES", "10", count(&c.DeviceCodeFailures), "wrong user codes per address (and per sign-in session) per window on /device"},
		{"AUTHD_DEVICE_CODE_WINDOW", "10m", positive(&c.DeviceCodeWindow, "10m"), "the /device wrong-code window and refusal"},
		{"AUTHD_TRUSTED_PROXIES", "", proxyNets(&c.Proxies.Nets), "CIDRs of reverse proxies whose forwarding header gives the client address; unset, the TCP peer is the client"},
		{"AUTHD_TRUSTED_PROXY_HEADER", "X-Forwarded-For", proxyHeader(&c.Proxies.Header), "X-Forwarded-For or Forwarded (RFC 7239): the one header trusted proxies report the client in"},
		{"AUTHD_SESSION_TTL", "24h", positive(&c.SessionTTL, "24h"), "absolute lifetime of a browser sign-in"},
		{"AUTHD_SESSION_IDLE_TIMEOUT", "1h", orOff(&c.SessionIdleTimeout), "a browser sign-in unused this long ends; 0 is off (only AUTHD_SESSION_TTL ends it)"},
		{"AUTHD_ADMIN_ADDR", "", text(&c.AdminAddr), "separate listen address for /metrics and /admin/*; unset, both are on AUTHD_ADDR"},
		{"AUTHD_REGISTRATION", "off", registrationMode(&c.Registration), "dynamic client registration (RFC 7591/7592) at /oauth2/register: off, token (needs AUTHD_REGISTRATION_TOKEN) or open"},
		{"AUTHD_REGISTRATION_TOKEN", "", text(&c.RegistrationToken), "initial access token registration needs in token mode (at least 32 characters)"},
		{"AUTHD_REGISTRATION_RATE", "20", count(&c.RegistrationRate), "client registrations an hour per client address (positive)"},
		{"AUTHD_CLIENT_ID_METADATA_DOCUMENTS", "off", onOff(&c.ClientIDMetadataDocuments), "on: a client_id that is an https URL is resolved by fetching its Client ID Metadata Document"},
		{"AUTHD_CLIENT_ID_METADATA_ALLOW_PRIVATE", "off", onOff(&c.ClientIDMetadataAllowPrivate), "tests and development only: on lets documents be fetched from loopback and private addresses (needs a loopback issuer)"},
	}
}

// limits is the rate limiter's configuration: the AUTHD_RATE_LIMIT_* table
// and the settings kept beside it.
func (c Config) limits() ratelimit.Config {
	rl := c.RateLimit
	rl.MaxDelay, rl.DeviceAuthPerMinute = c.RateLimitMaxDelay, c.DeviceAuthRate
	return rl
}

// defaultConfig is the configuration of an empty environment.
func defaultConfig() Config {
	var c Config
	for _, s := range settings(&c) {
		if err := s.parse(s.def); err != nil {
			panic(s.name + ": bad default: " + err.Error())
		}
	}
	return c
}

// envConfig reads the environment, reporting every malformed variable at
// once; ValidateServe then checks what serve needs.
func envConfig() (Config, error) {
	c := defaultConfig()
	var errs []error
	for _, s := range settings(&c) {
		if v := os.Getenv(s.name); v != "" {
			if err := s.parse(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q %w", s.name, v, err))
			}
		}
	}
	return c, errors.Join(errs...)
}

// The parsers: each sets its field from the variable's text.

func text(p *string) func(string) error {
	return func(v string) error { *p = v; return nil }
}

func secret(p *[]byte) func(string) error {
	return func(v string) error { *p = []byte(v); return nil }
}

func positive(p *time.Duration, example string) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("is not a positive duration (e.g. %s)", example)
		}
		*p = d
		return nil
	}
}

// orOff is a positive duration, or 0 for off.
func orOff(p *time.Duration) func(string) error {
	return zeroIsOff(positive(p, "10s, 720h"), func() { *p = 0 })
}

func count(p *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return errors.New("is not a positive integer")
		}
		*p = n
		return nil
	}
}

// countOrOff is a positive count, or 0 for off.
func countOrOff(p *int) func(string) error {
	return zeroIsOff(count(p), func() { *p = 0 })
}

// failures is a positive count, or 0 to disable the rate limiter
// (oauth.RateLimitConfig.Failures < 0).
func failures(p *int) func(string) error {
	return zeroIsOff(count(p), func() { *p = -1 })
}

// zeroIsOff accepts "0" as off (and calls off), anything else as parse does.
func zeroIsOff(parse func(string) error, off func()) func(string) error {
	return func(v string) error {
		if v == "0" {
			off()
			return nil
		}
		if err := parse(v); err != nil {
			return fmt.Errorf("is not 0 (off) and %w", err)
		}
		return nil
	}
}

func onOff(p *bool) func(string) error {
	return func(v string) error {
		switch strings.ToLower(v) {
		case "on", "true", "1":
			*p = true
		case "off", "false", "0":
			*p = false
		default:
			return errors.New("is neither on nor off")
		}
		return nil
	}
}

// offSwitch sets *p when the variable is off.
func offSwitch(p *bool) func(string) error {
	var on bool
	parse := onOff(&on)
	return func(v string) error {
		if err := parse(v); err != nil {
			return err
		}
		*p = !on
		return nil
	}
}

func proxyNets(p *[]netip.Prefix) func(string) error {
	return func(v string) error {
		nets, err := httpx.ParseProxyNets(v)
		if err != nil {
			return err
		}
		*p = nets
		return nil
	}
}

func proxyHeader(p *string) func(string) error {
	return func(v string) error {
		for _, h := range []string{httpx.HeaderXForwardedFor, httpx.HeaderForwarded} {
			if strings.EqualFold(v, h) {
				*p = h
				return nil
			}
		}
		return errors.New("is neither X-Forwarded-For nor Forwarded")
	}
}

func registrationMode(p *dynreg.Mode) func(string) error {
	return func(v string) error {
		switch m := dynreg.Mode(strings.ToLower(v)); m {
		case dynreg.Off, dynreg.Token, dynreg.Open:
			*p = m
			return nil
		}
		return errors.New("is not off, token or open")
	}
}

func logLevel(p *string) func(string) error {
	return func(v string) error {
		var l slog.Level
		if err := l.UnmarshalText([]byte(v)); err != nil {
			return errors.New("is not a log level (debug, info, warn, error)")
		}
		*p = v
		return nil
	}
}

// ValidateServe checks what `serve` needs, reporting every problem at once.
func (c Config) ValidateServe() error {
	var errs []error
	checks := []struct {
		bad bool
		msg string
	}{
		{len(c.Secret) < 32, "AUTHD_SECRET must be set to at least 32 bytes (make run generates one for development)"},
		{!c.validIssuer(), "AUTHD_ISSUER must be an absolute http(s) URL without query or fragment, and https unless the host is loopback"},
		{c.Addr == "", "AUTHD_ADDR must not be empty"},
		{c.AuthCodeTTL > time.Hour, "AUTHD_AUTH_CODE_TTL should be short (at most 1h)"},
		{c.DeviceCodeTTL > time.Hour, "AUTHD_DEVICE_CODE_TTL should be short (at most 1h)"},
		{c.AccessTokenTTL > c.RefreshTokenTTL, "AUTHD_ACCESS_TOKEN_TTL must not exceed AUTHD_REFRESH_TOKEN_TTL"},
		{c.keyRotationInvalid(), "AUTHD_KEY_ROTATION must be unset or at least twice the rotation lead (12m); e.g. 720h"},
		{c.RefreshRetryWindow > time.Minute, "AUTHD_REFRESH_RETRY_WINDOW must be short (at most 1m): it is a retry allowance, not a grace period"},
		{c.AdminToken != "" && len(c.AdminToken) < 32, "AUTHD_ADMIN_TOKEN must be at least 32 characters when set"},
		{c.UsageFlushInterval > maxUsageFlushInterval, "AUTHD_USAGE_FLUSH_INTERVAL must be at most 24h (pending usage in Redis expires after a week without a write)"},
		{c.AdminAddr != "" && c.AdminAddr == c.Addr, "AUTHD_ADMIN_ADDR must differ from AUTHD_ADDR"},
		{c.SessionIdleTimeout > c.SessionTTL, "AUTHD_SESSION_IDLE_TIMEOUT must not exceed AUTHD_SESSION_TTL"},
		{c.Registration == dynreg.Token && len(c.RegistrationToken) < 32, "AUTHD_REGISTRATION=token needs AUTHD_REGISTRATION_TOKEN of at least 32 characters"},
		{c.Registration != dynreg.Token && c.RegistrationToken != "", "AUTHD_REGISTRATION_TOKEN is set but AUTHD_REGISTRATION is not token"},
		{c.ClientIDMetadataAllowPrivate && (!c.ClientIDMetadataDocuments || !c.loopbackIssuer()), "AUTHD_CLIENT_ID_METADATA_ALLOW_PRIVATE is for tests and development: it needs AUTHD_CLIENT_ID_METADATA_DOCUMENTS=on and an issuer on loopback"},
	}
	for _, ch := range checks {
		if ch.bad {
			errs = append(errs, errors.New(ch.msg))
		}
	}
	return errors.Join(errs...)
}

// loopbackIssuer: the issuer's host is loopback (a test or development
// server).
func (c Config) loopbackIssuer() bool {
	u, err := url.Parse(c.Issuer)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

func (c Config) validIssuer() bool {
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.Issuer, "/") {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	h := u.Hostname()
	return u.Scheme == "http" && (h == "localhost" || h == "127.0.0.1" || h == "::1" || c.AllowHTTPIssuer)
}
