package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingFiller is an endless form body ("a=aaaa...") of n bytes that
// counts what the transport took from it.
type countingFiller struct {
	left, read int64
	started    bool
}

func (f *countingFiller) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	for i := range p {
		p[i] = 'a'
	}
	if !f.started && len(p) > 2 {
		copy(p, "a=")
		f.started = true
	}
	f.left -= int64(len(p))
	atomic.AddInt64(&f.read, int64(len(p)))
	return len(p), nil
}

// TestPagesRefuseHugeForms: a 20 MB form posted to any page is refused
// with 413 within a second, before the CSRF check parses it; with and
// without a Content-Length (chunked).
func TestPagesRefuseHugeForms(t *testing.T) {
	e := newDevicesE2E(t)
	for _, path := range []string{"/login", "/logout", "/device", "/account/devices/x/revoke", "/account/devices/revoke-all", "/oauth2/auth/decision"} {
		for _, chunked := range []bool{false, true} {
			body := &countingFiller{left: 20 << 20}
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, body)
			if err != nil {
				t.Fatal(err)
			}
			if !chunked {
				req.ContentLength = 20 << 20
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", e.srv.URL)
			start := time.Now()
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			took := time.Since(start)
			if err != nil {
				t.Errorf("POST %s (chunked %v): %v after %v (%d bytes sent)", path, chunked, err, took, atomic.LoadInt64(&body.read))
				continue
			}
			resp.Body.Close()
			t.Logf("POST %s (chunked %v): %d after %v, %d bytes sent", path, chunked, resp.StatusCode, took, atomic.LoadInt64(&body.read))
			if resp.StatusCode != http.StatusRequestEntityTooLarge || took > time.Second {
				t.Errorf("POST %s (chunked %v): %d after %v, want 413 within 1s (%d bytes sent)", path, chunked, resp.StatusCode, took, atomic.LoadInt64(&body.read))
			}
		}
	}
}

// TestPagesRefuseMultipart: a multipart sign-in (right password, right
// CSRF token) is refused with a 415 page and signs nobody in.
func TestPagesRefuseMultipart(t *testing.T) {
	e := newE2E(t)
	b := e.newBrowser()
	f := onlyForm(t, b.get(e.srv.URL+"/login"))
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range map[string]string{"username": e2eUser, "password": e2ePassword, "next": "/login", "csrf_token": csrfToken(t, f)} {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("upload", "big.bin")
	_, _ = fw.Write(bytes.Repeat([]byte{'x'}, 32<<10))
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/login", &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", e.srv.URL)
	p := b.do(req)
	if p.Status != http.StatusUnsupportedMediaType || !strings.Contains(p.Body, "<html") {
		t.Errorf("multipart sign-in: %d, want a 415 page; body %.300s", p.Status, p.Body)
	}
	if strings.Contains(p.Header.Get("Set-Cookie"), "authd_session") {
		t.Errorf("multipart sign-in set a session cookie")
	}
	// The same browser signs in normally with the form the page sends.
	if b.login(b.get(e.srv.URL+"/login")).Path != "/login" {
		t.Errorf("urlencoded sign-in did not succeed")
	}
}
