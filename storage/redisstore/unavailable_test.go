package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/storage/storagetest"
)

// storeAt returns a store over a client for url that neither waits nor
// retries, so an outage shows at once.
func storeAt(t *testing.T, url string) (*redisstore.Store, redis.UniversalClient) {
	t.Helper()
	o, err := redisstore.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	o.DialTimeout, o.MaxRetries, o.MaxRedirects = time.Second, -1, -1
	rdb := redis.NewUniversalClient(o)
	t.Cleanup(func() { rdb.Close() })
	return redisstore.New(rdb, "t:"), rdb
}

// TestUnavailable: every way the real Redis can fail to answer comes back as
// storage.ErrUnavailable (with the cause kept), and answers do not.
func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	t.Run("refused", func(t *testing.T) {
		s, _ := storeAt(t, fmt.Sprintf("redis://127.0.0.1:%d/0", storagetest.FreePort(t)))
		_, err := s.GetAccess(ctx, "g", "m")
		storagetest.WantUnavailable(t, "GetAccess", err, syscall.ECONNREFUSED)
		storagetest.WantUnavailable(t, "PutAux", s.PutAux(ctx, "g", "pk", []byte("x"), time.Minute), syscall.ECONNREFUSED)
		storagetest.WantUnavailable(t, "Ping", s.Ping(ctx), syscall.ECONNREFUSED)
	})
	t.Run("cluster refused", func(t *testing.T) {
		s, _ := storeAt(t, fmt.Sprintf("redis+cluster://127.0.0.1:%d,127.0.0.1:%d", storagetest.FreePort(t), storagetest.FreePort(t)))
		_, _, err := s.GetRefresh(ctx, "g", 1, "m", 0, time.Time{})
		storagetest.WantUnavailable(t, "GetRefresh", err, syscall.ECONNREFUSED)
		storagetest.WantUnavailable(t, "Rotate", s.Rotate(ctx, "g", 1, "m"), syscall.ECONNREFUSED)
	})
	t.Run("closed client", func(t *testing.T) {
		storagetest.Redis(t) // skips (fails in CI) when the test Redis is down
		s, rdb := storeAt(t, storagetest.RedisURL())
		if _, err := s.GetAccess(ctx, "g", "m"); !errors.Is(err, redisstore.ErrNotFound) || errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("GetAccess of a missing token: %v, want ErrNotFound alone", err)
		}
		rdb.Close()
		_, err := s.GetAccess(ctx, "g", "m")
		storagetest.WantUnavailable(t, "GetAccess after Close", err, redis.ErrClosed)
	})
	t.Run("deadline", func(t *testing.T) {
		rdb, prefix := storagetest.Redis(t)
		s := redisstore.New(rdb, prefix)
		dctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		<-dctx.Done()
		_, err := s.GetAccess(dctx, "g", "m")
		storagetest.WantUnavailable(t, "GetAccess past the deadline", err, context.DeadlineExceeded)
	})
	t.Run("answers", func(t *testing.T) {
		rdb, prefix := storagetest.Redis(t)
		s := redisstore.New(rdb, prefix)
		if err := s.Rotate(ctx, "g", 1, "m"); !errors.Is(err, redisstore.ErrNotFound) || errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("Rotate of a missing family: %v, want ErrNotFound alone", err)
		}
		if err := s.RedeemDevice(ctx, "g", "m"); errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("RedeemDevice of a missing code: %v, is ErrUnavailable", err)
		}
	})
}

// TestUnavailableReplies: the "not now" replies of a real redis-server are
// storage.ErrUnavailable: CLUSTERDOWN from a cluster node that serves no
// slot, READONLY (a write) and MASTERDOWN (a read) from a replica whose
// master is gone and that must not serve stale data.
func TestUnavailableReplies(t *testing.T) {
	ctx := context.Background()
	t.Run("CLUSTERDOWN", func(t *testing.T) {
		dir := t.TempDir()
		port := ownRedis(t, "--dir", dir, "--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf")
		s, _ := storeAt(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
		_, err := s.GetAccess(ctx, "g", "m")
		storagetest.WantUnavailable(t, "GetAccess", err, nil)
		if !redis.IsClusterDownError(err) {
			t.Errorf("GetAccess: %v, want the CLUSTERDOWN reply in the chain", err)
		}
	})
	t.Run("READONLY and MASTERDOWN", func(t *testing.T) {
		port := ownRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(storagetest.FreePort(t)), "--replica-serve-stale-data", "no")
		s, _ := storeAt(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
		err := s.PutAux(ctx, "g", "pk", []byte("x"), time.Minute)
		storagetest.WantUnavailable(t, "PutAux on a replica", err, nil)
		if !redis.IsReadOnlyError(err) {
			t.Errorf("PutAux on a replica: %v, want the READONLY reply in the chain", err)
		}
		_, err = s.GetAux(ctx, "g", "pk")
		storagetest.WantUnavailable(t, "GetAux on a replica without its master", err, nil)
		if !redis.IsMasterDownError(err) {
			t.Errorf("GetAux on a replica without its master: %v, want the MASTERDOWN reply in the chain", err)
		}
	})
}

// ownRedis starts a redis-server only this test uses, with args, on a free
// port, and returns the port once it answers PING (with PONG or an error
// reply: a replica without its master answers MASTERDOWN). It is killed
// when the test ends.
func ownRedis(t *testing.T, args ...string) int {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skipf("redis-server not found: %v", err)
	}
	port := storagetest.FreePort(t)
	var out bytes.Buffer
	cmd := exec.Command("redis-server", append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var reply redis.Error
		if err := c.Ping(context.Background()).Err(); err == nil || errors.As(err, &reply) {
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server %v did not answer:\n%s", args, out.String())
		}
	}
}
