package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/storagetest"
)

// TestSentinelFailover runs authd on redis+sentinel:// against a master, a
// replica and one Sentinel started for the test, kills the master (SIGKILL),
// and checks that authd answers 503 (never 500, never a hang) during the
// failover and serves the replicated tokens from the promoted replica after it.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-server processes")
	}
	needCommand(t, "redis-server")
	dir := t.TempDir()
	mp, rp, sp := storagetest.FreePort(t), storagetest.FreePort(t), storagetest.FreePort(t)
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
	waitReport(t, 15*time.Second, "replica never synced",
		func() (string, error) { return rc.Info(context.Background(), "replication").Result() }, "master_link_status:up")
	rc.Close()

	s := startServer(t, func(c *Config) {
		c.RedisURL = fmt.Sprintf("redis+sentinel://:%s@127.0.0.1:%d/authdtest?sentinel_password=", pw, sp)
	})
	s.addClient(t, storage.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Introspect: true}, "svc-secret-0123456789abcdef")
	hc := &http.Client{Timeout: 10 * time.Second}
	post := func(path string, form url.Values) (int, string) {
		r := mustPostForm(t, hc, s.URL+path, form, "svc:svc-secret-0123456789abcdef")
		return r.Status, r.Raw
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
