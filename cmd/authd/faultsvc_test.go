package main

// Private Redis and Postgres servers for fault tests: the shared services on
// 6390/5440 are used by every other test and must never be stopped, so a test
// that kills a backend starts its own on a random loopback port.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/storagetest"
)

// needCommand fails in CI and skips elsewhere when a program is missing.
func needCommand(t testing.TB, path string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found: %v", path, err)
		}
		t.Skipf("%s not found: %v", path, err)
	}
}

// ownRedis is a redis-server only this test uses: appendonly, fsync every
// second, data in a temp dir; Kill and Start act on it alone.
type ownRedis struct {
	t    testing.TB
	Port int
	Dir  string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

func startOwnRedis(t testing.TB) *ownRedis {
	t.Helper()
	needCommand(t, "redis-server")
	r := &ownRedis{t: t, Port: storagetest.FreePort(t), Dir: t.TempDir()}
	r.Start()
	t.Cleanup(func() { r.Kill() })
	return r
}

// URL is the server's redis:// URL.
func (r *ownRedis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// Start (re)starts the server on the same port and directory, and waits
// until it answers PING.
func (r *ownRedis) Start() {
	r.t.Helper()
	r.log = &bytes.Buffer{}
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--dir", r.Dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
		"--daemonize", "no", "--protected-mode", "yes")
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	waitRedis(r.t, r.Port, r.log.String)
}

// startRedisProc runs redis-server with args in dir until the test ends,
// logging to redis-<port>.log there, and waits for it to answer on port.
func startRedisProc(t testing.TB, dir string, port int, args ...string) *exec.Cmd {
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
	waitRedis(t, port, func() string {
		b, _ := os.ReadFile(logf.Name())
		return string(b)
	})
	return cmd
}

// waitRedis waits up to 10s for the redis-server on port to answer PING
// (with or without a password); log is its output, shown if it never does.
func waitRedis(t testing.TB, port int, log func() string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil || strings.HasPrefix(err.Error(), "NOAUTH") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %d not ready: %v; log:\n%s", port, err, log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill sends SIGKILL (no chance to save anything but what the AOF already
// has) and waits for the process to end.
func (r *ownRedis) Kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// ownPostgres is a Postgres cluster only this test uses, initialised as the
// postgres OS user in a temp dir, on a random loopback port.
type ownPostgres struct {
	t        testing.TB
	Port     int
	Dir, bin string
}

// pgBin returns the newest /usr/lib/postgresql/*/bin.
func pgBin(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	if len(dirs) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no /usr/lib/postgresql/*/bin")
		}
		t.Skip("no /usr/lib/postgresql/*/bin")
	}
	return dirs[len(dirs)-1]
}

func startOwnPostgres(t testing.TB) *ownPostgres {
	t.Helper()
	needCommand(t, "runuser")
	p := &ownPostgres{t: t, Port: storagetest.FreePort(t), bin: pgBin(t)}
	dir, err := os.MkdirTemp("", "authd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.Dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v: %s", dir, err, out)
	}
	p.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

func (p *ownPostgres) run(prog string, args ...string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append([]string{"-u", "postgres", "--", filepath.Join(p.bin, prog)}, args...)
	if out, err := exec.CommandContext(ctx, "runuser", argv...).CombinedOutput(); err != nil {
		p.t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
}

// URL is a postgres:// URL of the cluster's postgres database.
func (p *ownPostgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", p.Port)
}

// Start starts the cluster and waits for it.
func (p *ownPostgres) Start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.Port, p.Dir)
	p.run("pg_ctl", "-D", filepath.Join(p.Dir, "data"), "-o", opts, "-l", filepath.Join(p.Dir, "log"), "-w", "-t", "30", "start")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		p.t.Fatalf("own postgres not reachable: %v", err)
	}
	_ = conn.Close(ctx)
}

// Stop stops the cluster at once (immediate mode: like a crash).
func (p *ownPostgres) Stop() {
	if _, err := os.Stat(filepath.Join(p.Dir, "data", "postmaster.pid")); err != nil {
		return
	}
	argv := []string{"-u", "postgres", "--", filepath.Join(p.bin, "pg_ctl"), "-D", filepath.Join(p.Dir, "data"), "-m", "immediate", "-w", "stop"}
	if out, err := exec.Command("runuser", argv...).CombinedOutput(); err != nil {
		p.t.Logf("pg_ctl stop: %v\n%s", err, out)
	}
}

// waitReport polls info (an INFO or CLUSTER INFO answer) every 50 ms until
// it contains one of want; after d it fails with what and the last answer.
func waitReport(t testing.TB, d time.Duration, what string, info func() (string, error), want ...string) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		got, _ := info()
		for _, w := range want {
			if strings.Contains(got, w) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n%s", what, got)
		}
	}
}
