package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/storagetest"
)

// childAuthd is `authd serve` run as its own process, so its memory can be
// read from /proc.
type childAuthd struct {
	URL string
	cmd *exec.Cmd
}

// startChildAuthd builds authd, migrates a fresh schema, lets prepare add
// records to it, and serves it from a child process with env added.
func startChildAuthd(t *testing.T, prepare func(*postgres.DB), env ...string) *childAuthd {
	t.Helper()
	bin := t.TempDir() + "/authd"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	_, prefix := storagetest.Redis(t)
	cfg := Config{DatabaseURL: storagetest.PostgresURL(), DatabaseSchema: storagetest.Schema(t)}
	prepare(migratedDB(t, cfg))
	addr := "127.0.0.1:" + strconv.Itoa(storagetest.FreePort(t))
	c := &childAuthd{URL: "http://" + addr, cmd: exec.Command(bin, "serve")}
	c.cmd.Env = append(append(os.Environ(),
		"AUTHD_ADDR="+addr, "AUTHD_ISSUER="+c.URL, "AUTHD_LOG_LEVEL=error",
		"AUTHD_SECRET=test-secret-test-secret-test-secret-0123456789",
		"AUTHD_REDIS_URL="+storagetest.RedisURL(), "AUTHD_REDIS_PREFIX="+prefix,
		"AUTHD_DATABASE_URL="+cfg.DatabaseURL, "AUTHD_DATABASE_SCHEMA="+cfg.DatabaseSchema,
	), env...)
	logs := &lockedBuffer{limit: 1 << 20}
	c.cmd.Stdout, c.cmd.Stderr = logs, logs
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(c.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("authd serve did not come up:\n%s", logs.String())
		}
	}
}

// peakRSS is the child's VmHWM (peak resident set), in bytes.
func (c *childAuthd) peakRSS(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// Finding 4 of issue 15: an operator-chosen client secret is verified with
// argon2id (19 MiB a check) and nothing bounded how many ran at once: 200
// concurrent requests with a wrong secret asked for ~3.8 GB. Slow secret
// checks now wait for one of GOMAXPROCS slots, for a bounded time; a
// request that waited too long is 503 temporarily_unavailable with
// Retry-After (not invalid_client: its secret may be right, and the limiter
// counts only 401s).
func TestSlowSecretBurstBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const id, secret = "slow-secret", "an operator-chosen secret"
	child := startChildAuthd(t, func(db *postgres.DB) {
		h, err := storage.HashClientSecret(secret)
		if err != nil || !strings.HasPrefix(string(h), "$argon2id$") {
			t.Fatalf("hash %q: %v", h, err)
		}
		c := &storage.Client{ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}, SecretHash: h}
		if err := db.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}, "AUTHD_RATE_LIMIT_FAILURES=0") // the limiter off: the worst case, many sources
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
	post := func(basic string) apiResp {
		return postForm(context.Background(), hc, child.URL+"/oauth2/token", form, basic)
	}
	if r := post(id + ":" + secret); r.Status != http.StatusOK {
		t.Fatalf("right secret: %v", r)
	}
	before := child.peakRSS(t)

	const n = 200
	answers := burst(n, func(i int) apiResp { return post(fmt.Sprintf("%s:wrong-secret-%d", id, i)) })
	peak := child.peakRSS(t)
	t.Logf("authd peak RSS: %d MiB before the burst, %d MiB after %d concurrent bad slow secrets", before>>20, peak>>20, n)

	counts := map[int]int{}
	for _, r := range answers {
		counts[r.Status]++
		switch r.Status {
		case http.StatusUnauthorized:
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		case http.StatusServiceUnavailable:
			wantOAuthError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After: %v", r)
			}
		default:
			t.Errorf("answer %v, want 401 or 503", r)
		}
	}
	t.Logf("answers: %v", counts)
	if peak > 512<<20 {
		t.Errorf("peak RSS %d MiB, want under 512 MiB", peak>>20)
	}
	if r := post(id + ":" + secret); r.Status != http.StatusOK {
		t.Errorf("right secret after the burst: %v", r)
	}
}
