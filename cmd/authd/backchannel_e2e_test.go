package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/authd/authd/logout"
	"github.com/authd/authd/storage"
)

// Back-Channel Logout 1.0 end to end: relying parties in the test receive
// the logout tokens of a real authd and verify each with go-jose against
// authd's JWKS, as an RP would.

// testRP is a relying party's back-channel logout endpoint.
type testRP struct {
	t      *testing.T
	issuer string
	client string
	status atomic.Int32 // what it answers (200 unless set)
	delay  time.Duration
	mu     sync.Mutex
	tokens []map[string]any // the verified tokens' claims
	calls  atomic.Int32
	srv    *httptest.Server
}

func newTestRP(t *testing.T, issuer, client string) *testRP {
	rp := &testRP{t: t, issuer: issuer, client: client}
	rp.status.Store(http.StatusOK)
	rp.srv = httptest.NewServer(rp)
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *testRP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp.calls.Add(1)
	time.Sleep(rp.delay)
	claims, err := rp.verify(r)
	if err != nil {
		rp.t.Errorf("RP %s: %v", rp.client, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rp.mu.Lock()
	rp.tokens = append(rp.tokens, claims)
	rp.mu.Unlock()
	w.WriteHeader(int(rp.status.Load()))
}

// verify checks the request's logout token (Back-Channel Logout 1.0 §2.6):
// a form POST, typ logout+jwt, signed by a key of authd's JWKS (its kid),
// iss, aud, iat, exp (short), jti, the event, sid and sub, no nonce.
func (rp *testRP) verify(r *http.Request) (map[string]any, error) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("%s %s", r.Method, r.Header.Get("Content-Type"))
	}
	tok, err := josejwt.ParseSigned(r.PostFormValue("logout_token"), []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return nil, err
	}
	h := tok.Headers[0]
	if h.ExtraHeaders["typ"] != "logout+jwt" {
		return nil, fmt.Errorf("typ %v", h.ExtraHeaders["typ"])
	}
	key, err := rp.jwk(h.KeyID)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	var std josejwt.Claims
	if err := tok.Claims(key, &claims, &std); err != nil {
		return nil, err
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: rp.issuer, AnyAudience: []string{rp.client}, Time: time.Now()}, 5*time.Second); err != nil {
		return nil, err
	}
	if aud, _ := claims["aud"].(string); aud != rp.client {
		return nil, fmt.Errorf("aud %v", claims["aud"])
	}
	if std.IssuedAt == nil || std.Expiry == nil || std.Expiry.Time().Sub(std.IssuedAt.Time()) > 2*time.Minute ||
		time.Since(std.IssuedAt.Time()) > time.Minute || std.ID == "" {
		return nil, fmt.Errorf("iat/exp/jti %v", claims)
	}
	ev, _ := claims["events"].(map[string]any)
	if e, ok := ev[logout.BackChannelEvent].(map[string]any); !ok || len(e) != 0 || len(ev) != 1 {
		return nil, fmt.Errorf("events %v", claims["events"])
	}
	if _, ok := claims["nonce"]; ok {
		return nil, fmt.Errorf("nonce in a logout token")
	}
	if s, _ := claims["sid"].(string); s == "" {
		return nil, fmt.Errorf("no sid: %v", claims)
	}
	if s, _ := claims["sub"].(string); s == "" {
		return nil, fmt.Errorf("no sub: %v", claims)
	}
	return claims, nil
}

// jwk is authd's published key kid, fetched from its JWKS.
func (rp *testRP) jwk(kid string) (*jose.JSONWebKey, error) {
	resp, err := http.Get(rp.issuer + "/.well-known/jwks.json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, err
	}
	if ks := set.Key(kid); len(ks) == 1 {
		return &ks[0], nil
	}
	return nil, fmt.Errorf("kid %q not in authd's JWKS", kid)
}

// got is a copy of the verified tokens so far.
func (rp *testRP) got() []map[string]any {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]map[string]any(nil), rp.tokens...)
}

// waitTokens waits until rp has accepted n tokens.
func (rp *testRP) waitTokens(n int, within time.Duration) []map[string]any {
	rp.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := rp.got(); len(got) >= n && rp.status.Load()/100 == 2 {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	rp.t.Fatalf("RP %s: %d tokens within %s, want %d (%d calls)", rp.client, len(rp.got()), within, n, rp.calls.Load())
	return nil
}

// registerRP registers a code client whose back-channel logout URI is rp.
func registerRP(t *testing.T, s *testServer, rp *testRP, alg string) {
	t.Helper()
	s.addClient(t, storage.Client{
		ID: rp.client, Name: rp.client, RedirectURIs: []string{e2eRedirect}, GrantTypes: []string{"authorization_code"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid"}, IDTokenAlg: alg,
		BackchannelLogoutURI: rp.srv.URL + "/backchannel",
	}, "")
}

// fastRetries makes back-channel retries come after 300 ms.
func fastRetries(c *Config) {
	c.backchannelBackoff = logout.Backoff{Base: 300 * time.Millisecond, Max: time.Second}
}

// metricValue reads a counter from the App's /metrics.
func metricValue(t *testing.T, s *testServer, name string) float64 {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v float64
	for _, line := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(line, name+" %g", &v); err == nil {
			return v
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}
