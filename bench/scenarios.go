package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// prepared is a scenario ready to run.
type prepared struct {
	op      op
	note    string
	cleanup func()
}

func prepare(ctx context.Context, h *harness, o Options, name string, c int) (*prepared, error) {
	switch name {
	case "hello":
		return h.prepHello()
	case "jwks":
		return &prepared{op: h.simple(http.MethodGet, h.base+"/.well-known/jwks.json", "", "", "jwks")}, nil
	case "cc":
		body := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}.Encode()
		return &prepared{op: h.simple(http.MethodPost, h.base+"/oauth2/token", body, svcClient+":"+h.svcSecret, "cc")}, nil
	case "cc-jwt":
		return h.prepCCJWT()
	case "introspect":
		return h.prepIntrospect(ctx, o)
	case "refresh":
		return h.prepRefresh(ctx, o, c, pubClient, o.RefreshScope)
	case "refresh-es256":
		return h.prepRefresh(ctx, o, c, pubES256Client, o.RefreshScope)
	case "refresh-noid":
		return h.prepRefresh(ctx, o, c, pubClient, "offline_access")
	case "refresh-jwt":
		return h.prepRefresh(ctx, o, c, pubJWTClient, "offline_access")
	case "revoke":
		return h.prepRevoke(ctx, o, c)
	case "authcode":
		return h.prepAuthcode(ctx, o)
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

// call sends one request and drains the response; it returns the body when
// keep is set.
func (h *harness) call(step, method, u, body, basic string, keep bool) ([]byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if basic != "" {
		req.Header.Set("Authorization", basicHeader(basic))
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return nil, &flowError{step: step, detail: err.Error()}
	}
	defer resp.Body.Close()
	var out []byte
	if keep || resp.StatusCode != http.StatusOK {
		out, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return nil, &flowError{step: step, detail: err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &flowError{step: step, status: resp.StatusCode, detail: string(out)}
	}
	return out, nil
}

// basicHeaders memoizes Authorization values: the load generator should
// spend its CPU on requests, not on re-encoding the same credentials.
var basicHeaders sync.Map

// basicHeader is the client_secret_basic header for "id:secret" (RFC 6749
// §2.3.1: both form-urlencoded, then HTTP Basic).
func basicHeader(basic string) string {
	if v, ok := basicHeaders.Load(basic); ok {
		return v.(string)
	}
	id, secret, _ := strings.Cut(basic, ":")
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	v := r.Header.Get("Authorization")
	basicHeaders.Store(basic, v)
	return v
}

// simple is an op that sends the same request every time and wants a 200.
func (h *harness) simple(method, u, body, basic, step string) op {
	return func(int) error {
		_, err := h.call(step, method, u, body, basic, false)
		return err
	}
}

// ---------------------------------------------------------------------------
// hello: the ceiling, a trivial handler in this process.

var (
	helloOnce sync.Once
	helloURL  string
	helloErr  error
)

func (h *harness) prepHello() (*prepared, error) {
	helloOnce.Do(func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			helloErr = err
			return
		}
		msg := []byte("hello\n")
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				_, _ = w.Write(msg)
			}),
			ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second,
		}
		go func() { _ = srv.Serve(l) }()
		helloURL = "http://" + l.Addr().String() + "/"
	})
	if helloErr != nil {
		return nil, helloErr
	}
	return &prepared{op: h.simple(http.MethodGet, helloURL, "", "", "hello"), note: "server in the bench process"}, nil
}

// ---------------------------------------------------------------------------
// Minting tokens through the code flow.

// mintBrowser returns the i-th minting browser and its user; it stays
// signed in across calls, so minting costs no password checks after the
// first grant.
func (h *harness) mintBrowser(i int) (*browser, string) {
	h.mintMu.Lock()
	defer h.mintMu.Unlock()
	for len(h.mintBrowsers) <= i {
		h.mintBrowsers = append(h.mintBrowsers, h.newBrowser())
	}
	return h.mintBrowsers[i], h.users[i%len(h.users)]
}

// mintMany mints up to n grants with par signed-in browsers (one user each),
// stopping at the time budget. It returns what it minted.
func (h *harness) mintMany(ctx context.Context, n, par int, budget time.Duration, scope string) ([]tokens, error) {
	return h.mintManyFor(ctx, pubClient, n, par, budget, scope)
}

// mintManyFor is mintMany for another public client.
func (h *harness) mintManyFor(ctx context.Context, client string, n, par int, budget time.Duration, scope string) ([]tokens, error) {
	par = max(1, min(par, n))
	deadline := time.Now().Add(budget)
	var mu sync.Mutex
	var out []tokens
	var firstErr error
	var fails atomic.Int64
	var wg sync.WaitGroup
	var next atomic.Int64
	for i := 0; i < par; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b, user := h.mintBrowser(i)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if next.Add(1) > int64(n) {
					return
				}
				t, err := b.mintGrantFor(client, user, scope)
				if err != nil {
					if fails.Add(1) > 10 {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					next.Add(-1)
					continue
				}
				mu.Lock()
				out = append(out, t)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		return out, fmt.Errorf("minting tokens: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// cc-jwt: client_credentials for a client with --access-token-format jwt.

// isJWT reports whether tok looks like a compact JWS (three base64url parts,
// a JSON header): the jwt scenarios check they are not measuring opaque
// tokens.
func isJWT(tok string) bool {
	return strings.HasPrefix(tok, "eyJ") && strings.Count(tok, ".") == 2
}

// jwtAlg is the "alg" of a JWT's header, "" for anything else.
func jwtAlg(tok string) string {
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &hdr) != nil {
		return ""
	}
	return hdr.Alg
}

func (h *harness) prepCCJWT() (*prepared, error) {
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}.Encode()
	basic := svcJWTClient + ":" + h.svcJWTSecret
	jwtAT := []byte(`"access_token":"eyJ`)
	return &prepared{
		note: "ES256 JWT access tokens",
		op: func(int) error {
			b, err := h.call("cc-jwt", http.MethodPost, h.base+"/oauth2/token", body, basic, true)
			if err != nil {
				return err
			}
			if !bytes.Contains(b, jwtAT) {
				return &flowError{step: "cc-not-jwt", status: 200, detail: string(b)}
			}
			return nil
		},
	}, nil
}

// ---------------------------------------------------------------------------
// introspect

var introspectPool []tokens

func (h *harness) prepIntrospect(ctx context.Context, o Options) (*prepared, error) {
	n, par := 256, 8
	if o.Quick {
		n, par = 32, 4
	}
	if len(introspectPool) == 0 {
		ts, err := h.mintMany(ctx, n, par, 5*time.Minute, "openid offline_access")
		if err != nil {
			return nil, err
		}
		introspectPool = ts
	}
	pool := make([]string, len(introspectPool))
	for i, t := range introspectPool {
		pool[i] = url.Values{"token": {t.Access}}.Encode()
	}
	var i atomic.Uint64
	basic := rsClient + ":" + h.rsSecret
	active := []byte(`"active":true`)
	return &prepared{
		note: fmt.Sprintf("%d user access tokens", len(pool)),
		op: func(int) error {
			body := pool[(i.Add(1)-1)%uint64(len(pool))]
			b, err := h.call("introspect", http.MethodPost, h.base+"/oauth2/introspect", body, basic, true)
			if err != nil {
				return err
			}
			if !bytes.Contains(b, active) {
				return &flowError{step: "introspect-inactive", status: 200, detail: string(b)}
			}
			return nil
		},
	}, nil
}

// ---------------------------------------------------------------------------
// refresh: one rotating chain per worker.

func (h *harness) prepRefresh(ctx context.Context, o Options, c int, client, scope string) (*prepared, error) {
	ts, err := h.mintManyFor(ctx, client, c, 8, 5*time.Minute, scope)
	if err != nil {
		return nil, err
	}
	if len(ts) < c {
		return nil, fmt.Errorf("minted %d refresh chains, want %d", len(ts), c)
	}
	rts := make([]string, c)
	browsers := make([]*browser, c)
	for w := range rts {
		rts[w] = ts[w].Refresh
	}
	jwt := client == pubJWTClient
	note := "scope " + scope
	if jwt {
		note += ", ES256 JWT access tokens"
	}
	// With openid every refresh must carry a new ID token signed as the
	// client registered (RS256 unless --id-token-alg ES256).
	wantAlg := ""
	if strings.Contains(" "+scope+" ", " openid ") {
		wantAlg = "RS256"
		if client == pubES256Client {
			wantAlg = "ES256"
		}
		note += ", " + wantAlg + " ID tokens"
	}
	return &prepared{
		note: note,
		op: func(w int) error {
			t, err := h.postToken("refresh", url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {rts[w]}, "client_id": {client},
			})
			if err == nil && t.Refresh == "" {
				err = &flowError{step: "refresh", status: 200, detail: "no refresh token"}
			}
			if err == nil && jwt && !isJWT(t.Access) {
				err = &flowError{step: "refresh-not-jwt", status: 200, detail: t.Access}
			}
			if err == nil && wantAlg != "" && jwtAlg(t.IDToken) != wantAlg {
				err = &flowError{step: "refresh-id-token", status: 200, detail: "ID token " + t.IDToken}
			}
			if err != nil {
				// The chain is broken: start a new one (not timed as a
				// refresh, but it occupies the worker).
				if browsers[w] == nil {
					browsers[w] = h.newBrowser()
				}
				if nt, merr := browsers[w].mintGrantFor(client, h.users[w%len(h.users)], scope); merr == nil {
					rts[w] = nt.Refresh
				}
				return err
			}
			rts[w] = t.Refresh
			return nil
		},
	}, nil
}

// ---------------------------------------------------------------------------
// revoke: each request revokes one pre-minted grant by its refresh token.

func (h *harness) prepRevoke(ctx context.Context, o Options, c int) (*prepared, error) {
	window := o.Warmup + o.Duration
	target := int(window.Seconds() * 4000)
	budget := 4 * window
	if o.Quick {
		budget = time.Second
	}
	start := time.Now()
	par := 16
	if o.Quick {
		par = 4
	}
	ts, err := h.mintMany(ctx, target, par, budget, "offline_access")
	if err != nil {
		return nil, err
	}
	h.o.Logf("revoke: minted %d grants in %v", len(ts), time.Since(start).Round(time.Millisecond))
	bodies := make([]string, len(ts))
	for i, t := range ts {
		bodies[i] = url.Values{"token": {t.Refresh}, "token_type_hint": {"refresh_token"}, "client_id": {pubClient}}.Encode()
	}
	var i atomic.Int64
	return &prepared{
		note: fmt.Sprintf("pool of %d grants", len(bodies)),
		op: func(int) error {
			k := i.Add(1) - 1
			if k >= int64(len(bodies)) {
				return errExhausted
			}
			_, err := h.call("revoke", http.MethodPost, h.base+"/oauth2/revoke", bodies[k], "", false)
			return err
		},
	}, nil
}

// ---------------------------------------------------------------------------
// authcode: a whole sign-in per iteration, as a new browser.

func (h *harness) prepAuthcode(ctx context.Context, o Options) (*prepared, error) {
	// The first authorization per user asks for consent; give it now so
	// that every measured iteration is: authorize -> login page, POST
	// /login (password check), authorize -> code, code exchange.
	for _, u := range h.users {
		if _, err := h.newBrowser().mintGrant(u, "openid offline_access"); err != nil {
			return nil, fmt.Errorf("first sign-in of %s: %w", u, err)
		}
	}
	return &prepared{
		note: "4 requests per iteration, fresh cookie jar",
		op: func(w int) error {
			_, err := h.newBrowser().mintGrant(h.users[w%len(h.users)], "openid offline_access")
			return err
		},
	}, nil
}
