package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/storagetest"
)

// TestClusterMasterFailover runs authd on a Redis Cluster of three masters
// with one replica each (six redis-server processes started for the test,
// cluster-node-timeout 1s), kills one master with SIGKILL and checks that
// tokens stored on it answer 503 (never 500, never a hang) until its replica
// takes over, and are then served again; tokens on the other masters never
// stop working.
func TestClusterMasterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six redis-server processes")
	}
	needCommand(t, "redis-server")
	needCommand(t, "redis-cli")
	dir := t.TempDir()
	ports := make([]int, 6)
	procs := map[string]*exec.Cmd{}
	var addrs []string
	for i := range ports {
		ports[i] = storagetest.FreePort(t)
		p := fmt.Sprint(ports[i])
		procs["127.0.0.1:"+p] = startRedisProc(t, dir, ports[i], "--port", p, "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+p+".conf", "--cluster-node-timeout", "1000",
			"--save", "", "--appendonly", "no")
		addrs = append(addrs, "127.0.0.1:"+p)
	}
	create := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	ctx := context.Background()
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		waitReport(t, 20*time.Second, a+": cluster not ok",
			func() (string, error) { return c.ClusterInfo(ctx).Result() }, "cluster_state:ok")
		// Replicas: wait for the initial sync.
		waitReport(t, 20*time.Second, a+": replica never synced",
			func() (string, error) { return c.Info(ctx, "replication").Result() }, "role:master", "master_link_status:up")
		c.Close()
	}

	s := startServer(t, func(c *Config) { c.RedisURL = "redis+cluster://" + strings.Join(addrs[:3], ",") })
	s.addClient(t, storage.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Introspect: true}, "svc-secret-0123456789abcdef")
	hc := &http.Client{Timeout: 10 * time.Second}
	post := func(path string, form url.Values) (int, string, time.Duration) {
		start := time.Now()
		r := mustPostForm(t, hc, s.URL+path, form, "svc:svc-secret-0123456789abcdef")
		return r.Status, r.Raw, time.Since(start)
	}
	const n = 30
	tokens := make([]string, n)
	for i := range tokens {
		code, body, _ := post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil || tok.AccessToken == "" {
			t.Fatalf("token %d: %d %s", i, code, body)
		}
		tokens[i] = tok.AccessToken
	}

	// Which master is which: kill the master of the first token's slot.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs[:3]})
	defer cc.Close()
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var masters []string
	for _, sl := range slots {
		masters = append(masters, sl.Nodes[0].Addr)
	}
	// Every master's writes reach its replica before the crash (replication
	// is asynchronous; see README "Redis persistence").
	_ = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		if n, err := m.Do(ctx, "WAIT", 1, 2000).Int(); err != nil || n != 1 {
			t.Errorf("WAIT on %s: %d, %v", m.Options().Addr, n, err)
		}
		return nil
	})
	victim := masters[0]
	if err := procs[victim].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()

	var slowest time.Duration
	down := map[int]bool{} // tokens that answered 503 at least once
	for {
		allOK := true
		for i, tok := range tokens {
			code, body, d := post("/oauth2/introspect", url.Values{"token": {tok}})
			slowest = max(slowest, d)
			switch {
			case code == http.StatusOK && strings.Contains(body, `"active":true`):
			case code == http.StatusServiceUnavailable:
				down[i] = true
				allOK = false
			default:
				t.Fatalf("token %d during the failover: %d %s", i, code, body)
			}
		}
		if allOK {
			break
		}
		if time.Since(killed) > 60*time.Second {
			t.Fatalf("no recovery %v after killing master %s", time.Since(killed), victim)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("killed master %s: %d of %d tokens answered 503 meanwhile, all active again after %v; slowest request %v",
		victim, len(down), n, time.Since(killed).Round(time.Millisecond), slowest.Round(time.Millisecond))
	if len(down) == n {
		t.Error("every token was unavailable: the other masters' tokens must keep working")
	}
	if slowest > 3*time.Second {
		t.Errorf("a request took %v during the failover: Redis timeouts must stay bounded", slowest)
	}
	if code, body, _ := post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}); code != http.StatusOK {
		t.Fatalf("token after failover: %d %s", code, body)
	}
}
