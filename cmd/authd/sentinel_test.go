package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
)

// startRedisProc runs redis-server with args in the foreground until the
// test ends, and waits for it to answer on port.
func startRedisProc(t *testing.T, dir string, port int, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = dir
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("redis-%d.log", port)))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer c.Close()
	up := func() bool { // answering, with or without a password
		err := c.Ping(context.Background()).Err()
		return err == nil || strings.HasPrefix(err.Error(), "NOAUTH")
	}
	for deadline := time.Now().Add(10 * time.Second); !up(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("redis-server on %d did not start:\n%s", port, b)
		}
	}
	return cmd
}

// TestSentinelFailover runs authd on redis+sentinel:// against a master, a
// replica and one Sentinel started for the test, kills the master (SIGKILL),
// and checks that authd answers 503 (never 500, never a hang) during the
// failover and serves the replicated tokens from the promoted replica after it.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-server processes")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server not installed")
		}
		t.Skip("redis-server not installed")
	}
	dir := t.TempDir()
	mp, rp, sp := freePort(t), freePort(t), freePort(t)
	// The servers need a password, the Sentinel none: the usual setup, and
	// what ?sentinel_password= is for.
	const pw = "sentinel-test-pw"
	master := startRedisProc(t, dir, mp, "--port", fmt.Sprint(mp), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--requirepass", pw, "--masterauth", pw)
	startRedisProc(t, dir, rp, "--port", fmt.Sprint(rp), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--requirepass", pw, "--masterauth", pw, "--replicaof", "127.0.0.1", fmt.Sprint(mp))
	conf := filepath.Join(dir, "sentinel.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel monitor authdtest 127.0.0.1 %d 1
sentinel auth-pass authdtest sentinel-test-pw
sentinel down-after-milliseconds authdtest 1000
sentinel failover-timeout authdtest 5000
`, sp, dir, mp)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	startRedisProc(t, dir, sp, conf, "--sentinel")

	// Wait for the replica's initial sync.
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rp), Password: pw})
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		info, _ := rc.Info(context.Background(), "replication").Result()
		if strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica never synced:\n%s", info)
		}
	}
	rc.Close()

	s := startServer(t, func(c *Config) {
		c.RedisURL = fmt.Sprintf("redis+sentinel://:%s@127.0.0.1:%d/authdtest?sentinel_password=", pw, sp)
	})
	s.addClient(t, storage.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Introspect: true}, "svc-secret-0123456789abcdef")
	post := func(path string, form url.Values) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc", "svc-secret-0123456789abcdef")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp.StatusCode, string(b)
	}
	code, body := post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
	if code != http.StatusOK {
		t.Fatalf("token via sentinel: %d %s", code, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal([]byte(body), &tok)
	if tok.AccessToken == "" {
		t.Fatalf("no access token: %s", body)
	}
	// Make sure the replica has the token before the master dies
	// (replication is asynchronous; see README "Redis persistence").
	mc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", mp), Password: pw})
	if n, err := mc.Do(context.Background(), "WAIT", 1, 2000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT for the replica: %d, %v", n, err)
	}
	mc.Close()

	if err := master.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var statuses []int
	var slowest time.Duration
	for {
		start := time.Now()
		code, body := post("/oauth2/introspect", url.Values{"token": {tok.AccessToken}})
		if d := time.Since(start); d > slowest {
			slowest = d
		}
		if len(statuses) == 0 || statuses[len(statuses)-1] != code {
			statuses = append(statuses, code)
		}
		if code == http.StatusOK {
			if !strings.Contains(body, `"active":true`) {
				t.Fatalf("after failover the replicated token is not active: %s", body)
			}
			break
		}
		if code != http.StatusServiceUnavailable {
			t.Fatalf("during failover: %d %s, want 503", code, body)
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("no failover after %v (statuses %v)", time.Since(killed), statuses)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("master killed: introspection answered %v, recovered after %v; slowest request %v",
		statuses, time.Since(killed).Round(time.Millisecond), slowest.Round(time.Millisecond))
	if slowest > 3*time.Second {
		t.Errorf("a request took %v during the failover: Redis timeouts must stay bounded", slowest)
	}
	// And new tokens are written to the promoted master.
	if code, body := post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}); code != http.StatusOK {
		t.Fatalf("token after failover: %d %s", code, body)
	}
}
