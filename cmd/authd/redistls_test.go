package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/storagetest"
)

// writeTestCA writes a CA and a server certificate for 127.0.0.1 (PEM) into
// dir and returns the CA pool and the file names.
func writeTestCA(t *testing.T, dir string) (pool *x509.CertPool, caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "authd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "redis"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return pool, write("ca.pem", "CERTIFICATE", caDER), write("redis.pem", "CERTIFICATE", leafDER), write("redis.key", "EC PRIVATE KEY", keyDER)
}

// TestRedissVerifiesTheServer connects with a rediss:// URL to a TLS-only
// redis-server: with the CA trusted the connection works (the server name
// comes from the dialled address), without it the handshake fails.
func TestRedissVerifiesTheServer(t *testing.T) {
	needCommand(t, "redis-server")
	dir := t.TempDir()
	pool, ca, cert, key := writeTestCA(t, dir)
	port := storagetest.FreePort(t)
	cmd := exec.Command("redis-server", "--port", "0", "--tls-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no",
		"--save", "", "--appendonly", "no")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	url := fmt.Sprintf("rediss://127.0.0.1:%d/0", port)
	trusted, err := newRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	defer trusted.Close()
	trusted.(*redis.Client).Options().TLSConfig.RootCAs = pool // what the system roots would hold
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := trusted.Set(ctx, "k", "v", time.Minute).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rediss with the CA trusted: %v", err)
		}
	}
	untrusted, err := newRedisClient(url) // system roots only
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	err = untrusted.Get(ctx, "k").Err()
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("rediss to a server with an unknown CA: %v, want a certificate error", err)
	}
	plain, _ := newRedisClient(fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Fatal("plain redis:// to a TLS-only port succeeded")
	}
}
