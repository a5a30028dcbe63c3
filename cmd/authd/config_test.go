package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestConfigREADME: the README's Configuration table lists every variable of
// the settings table, in its order, with its default ("—" for none).
func TestConfigREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "## Configuration\n")
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `(AUTHD_[A-Z_]+)` \\| ([^|]*) \\|")
	var got []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		got = append(got, m[1]+" "+strings.TrimSpace(m[2]))
	}
	var want []string
	for _, s := range settings(new(Config)) {
		def := "—"
		if s.def != "" {
			def = "`" + s.def + "`"
		}
		want = append(want, s.name+" "+def)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README Configuration table:\n%s\nwant (config.go):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestConfigDefaults: an empty environment gives the table's defaults.
func TestConfigDefaults(t *testing.T) {
	for _, s := range settings(new(Config)) {
		t.Setenv(s.name, "")
	}
	c, err := envConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "http://127.0.0.1:8080" || c.AccessTokenTTL != time.Hour || c.UsageFlushInterval != 5*time.Second ||
		c.ClientCacheTTL != 10*time.Second || c.JanitorInterval != time.Hour || c.GrantRetention != 720*time.Hour ||
		c.KeyRotation != 0 || c.RefreshRetryWindow != 0 || c.NoRedisAutoPipeline || c.AllowHTTPIssuer ||
		c.RateLimit.Failures != 10 || c.RateLimit.IPFailures != 50 || c.RateLimit.Window != time.Minute || c.RateLimit.MaxWindow != time.Hour {
		t.Errorf("defaults: %+v", c)
	}
}

// TestConfigZeroMeansOff: where the table says 0 is off, 0 is accepted and
// off; elsewhere 0 is refused rather than quietly replaced.
func TestConfigZeroMeansOff(t *testing.T) {
	for _, name := range []string{"AUTHD_KEY_ROTATION", "AUTHD_REFRESH_RETRY_WINDOW", "AUTHD_JANITOR_INTERVAL", "AUTHD_RATE_LIMIT_FAILURES"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, "0")
			c, err := envConfig()
			if err != nil {
				t.Fatal(err)
			}
			if c.KeyRotation != 0 || c.RefreshRetryWindow != 0 || (name == "AUTHD_JANITOR_INTERVAL") != (c.JanitorInterval == 0) ||
				(name == "AUTHD_RATE_LIMIT_FAILURES") != (c.RateLimit.Failures < 0) {
				t.Errorf("%s=0: %+v", name, c)
			}
		})
	}
	for _, name := range []string{"AUTHD_ACCESS_TOKEN_TTL", "AUTHD_USAGE_FLUSH_INTERVAL", "AUTHD_GRANT_RETENTION",
		"AUTHD_CLIENT_CACHE_TTL", "AUTHD_RATE_LIMIT_IP_FAILURES", "AUTHD_RATE_LIMIT_WINDOW"} {
		t.Setenv(name, "0")
		if _, err := envConfig(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=0 accepted: %v", name, err)
		}
		t.Setenv(name, "")
	}
}

// TestConfigReportsEveryMalformedVariable: one run names all of them.
func TestConfigReportsEveryMalformedVariable(t *testing.T) {
	bad := map[string]string{
		"AUTHD_ACCESS_TOKEN_TTL": "forever", "AUTHD_KEY_ROTATION": "-1h", "AUTHD_RATE_LIMIT_FAILURES": "many",
		"AUTHD_REDIS_AUTOPIPELINE": "maybe", "AUTHD_ALLOW_HTTP_ISSUER": "yes", "AUTHD_LOG_LEVEL": "loud",
	}
	for k, v := range bad {
		t.Setenv(k, v)
	}
	_, err := envConfig()
	for k := range bad {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s not reported: %v", k, err)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, &out, &out); err == nil || !strings.Contains(err.Error(), "AUTHD_LOG_LEVEL") {
		t.Errorf("migrate with a malformed environment: %v", err)
	}
}

// TestHelpWhateverTheEnvironment: help needs no configuration.
func TestHelpWhateverTheEnvironment(t *testing.T) {
	t.Setenv("AUTHD_ACCESS_TOKEN_TTL", "forever")
	t.Setenv("AUTHD_REDIS_URL", "nonsense://")
	for _, arg := range []string{"help", "-h", "--help"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{arg}, &out, &out); err != nil || out.String() != usage+"\n" {
			t.Errorf("authd %s: %v %q", arg, err, out.String())
		}
	}
}

// TestConfigAllowHTTPIssuer: AUTHD_ALLOW_HTTP_ISSUER is a row of the table,
// read with the rest, and lets serve accept an http issuer off loopback.
func TestConfigAllowHTTPIssuer(t *testing.T) {
	t.Setenv("AUTHD_SECRET", "test-secret-test-secret-test-secret-0123456789")
	t.Setenv("AUTHD_ISSUER", "http://authd.internal:8080")
	c, err := envConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateServe(); err == nil || !strings.Contains(err.Error(), "AUTHD_ISSUER") {
		t.Errorf("http issuer off loopback accepted: %v", err)
	}
	t.Setenv("AUTHD_ALLOW_HTTP_ISSUER", "1")
	if c, err = envConfig(); err != nil || !c.AllowHTTPIssuer {
		t.Fatalf("AUTHD_ALLOW_HTTP_ISSUER=1: %v %+v", err, c)
	}
	if err := c.ValidateServe(); err != nil {
		t.Errorf("with AUTHD_ALLOW_HTTP_ISSUER=1: %v", err)
	}
}
