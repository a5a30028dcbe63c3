package main

// Races over HTTP: many requests presenting the same refresh token or the
// same authorization code at once, and a revocation racing a refresh. The
// storage conformance suite proves the compare-and-set scripts; these tests
// prove the whole request path (fosite, the adapter, error mapping) keeps the
// promise: one winner at most, the others invalid_grant, never a 5xx.

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// raceClient keeps enough idle connections for a whole burst, so that 200
// rounds of 50 requests reuse connections instead of leaving 10 000 sockets in
// TIME_WAIT.
func raceClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 128, 128
	return &http.Client{Transport: tr, Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// racePost posts form to path; a transport failure is a response with
// Status 0 and the error in Raw (safe to call from any goroutine).
func racePost(hc *http.Client, base, path string, form url.Values, basic string) apiResp {
	return postForm(context.Background(), hc, base+path, form, basic)
}

// burst sends n copies of the same request at once (released together) and
// returns the responses.
func burst(n int, send func(i int) apiResp) []apiResp {
	out := make([]apiResp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = send(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// tally splits a burst's responses into 200s and invalid_grant 400s and
// reports anything else (5xx, transport errors, other errors) as a failure.
func tally(t *testing.T, what string, rs []apiResp) (winners []apiResp, invalid int) {
	t.Helper()
	for _, r := range rs {
		switch {
		case r.Status == http.StatusOK:
			winners = append(winners, r)
		case r.Status == http.StatusBadRequest && r.str("error") == "invalid_grant":
			invalid++
		default:
			t.Errorf("%s: unexpected response %v", what, r)
		}
	}
	return winners, invalid
}

// freshGrant runs a code flow in b (signed in, consent remembered: one GET
// and one exchange) and returns the tokens.
func freshGrant(t *testing.T, e *e2e, b *browser) *oauth2.Token {
	t.Helper()
	cfg := e.pubConfig()
	v := oauth2.GenerateVerifier()
	q := b.authorize(cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(v)))
	tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// TestRaceRefreshHTTP: 200 rounds of 50 concurrent refreshes with one refresh
// token. Each round's winner token is the next round's contested token, so a
// single sign-in feeds the whole test. A duplicate that arrives while the
// rotation is in flight gets invalid_grant and revokes nothing; one that
// arrives after the rotation completed is a replay and revokes the family
// (then the next round starts from a new grant). Never two winners.
func TestRaceRefreshHTTP(t *testing.T) {
	e := newE2E(t)
	hc := raceClient()
	b := e.newBrowser()
	const rounds, workers = 200, 50
	rt := freshGrant(t, e, b).RefreshToken
	grants, revokedRounds, noWinner, doubleSpends := 1, 0, 0, 0
	began := time.Now()
	for round := 0; round < rounds; round++ {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {e2ePubID}}
		rs := burst(workers, func(int) apiResp { return racePost(hc, e.srv.URL, "/oauth2/token", form, "") })
		winners, invalid := tally(t, "round", rs)
		if len(winners) > 1 {
			doubleSpends++
			t.Errorf("round %d: %d winners for one refresh token (double spend)", round, len(winners))
		}
		if len(winners)+invalid != workers {
			t.Fatalf("round %d: %d winners, %d invalid_grant of %d", round, len(winners), invalid, workers)
		}
		g, err := e.srv.DB.GetGrant(e.ctx, grantOf(t, rt))
		if err != nil {
			t.Fatal(err)
		}
		if g.RevokedAt != nil {
			// A late duplicate was taken for reuse: the whole family is dead,
			// the winner's tokens included.
			revokedRounds++
			for _, w := range winners {
				if e.active(w.str("access_token")) {
					t.Errorf("round %d: the revoked family's new access token is active", round)
				}
			}
			rt = freshGrant(t, e, b).RefreshToken
			grants++
			continue
		}
		if len(winners) == 0 {
			noWinner++
			t.Errorf("round %d: no winner and the grant is not revoked", round)
			rt = freshGrant(t, e, b).RefreshToken
			grants++
			continue
		}
		rt = winners[0].str("refresh_token")
	}
	t.Logf("%d rounds × %d concurrent refreshes in %v: %d double spends, %d rounds revoked the family (late duplicate = replay), %d rounds without a winner; %d grants used",
		rounds, workers, time.Since(began).Round(time.Millisecond), doubleSpends, revokedRounds, noWinner, grants)
	// The last token of the chain still works unless its round revoked it.
	if r := racePost(hc, e.srv.URL, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {e2ePubID}}, ""); r.Status != http.StatusOK {
		t.Errorf("the chain's last refresh token: %v", r)
	}
}

// TestRaceCodeRedemptionHTTP: 20 concurrent redemptions of one authorization
// code. At most one wins (zero when a redemption that arrived after the
// exchange completed revoked the grant, RFC 6749 §4.1.2), the rest are
// invalid_grant; presenting the code again afterwards revokes whatever the
// winner got.
func TestRaceCodeRedemptionHTTP(t *testing.T) {
	e := newE2E(t)
	hc := raceClient()
	b := e.newBrowser()
	cfg := e.pubConfig()
	const rounds, workers = 10, 20
	revokedDuringRace, zeroWinners := 0, 0
	for round := 0; round < rounds; round++ {
		v := oauth2.GenerateVerifier()
		q := b.authorize(cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(v)))
		form := url.Values{
			"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {e2ePubID},
			"redirect_uri": {e2eRedirect}, "code_verifier": {v},
		}
		rs := burst(workers, func(int) apiResp { return racePost(hc, e.srv.URL, "/oauth2/token", form, "") })
		winners, invalid := tally(t, "redemption", rs)
		if len(winners) > 1 {
			t.Fatalf("round %d: %d winners for one authorization code", round, len(winners))
		}
		if len(winners)+invalid != workers {
			t.Fatalf("round %d: %d winners, %d invalid_grant of %d", round, len(winners), invalid, workers)
		}
		if len(winners) == 0 {
			zeroWinners++
			continue
		}
		at, rt := winners[0].str("access_token"), winners[0].str("refresh_token")
		if !e.active(at) {
			revokedDuringRace++ // a late duplicate already replayed the code
		}
		// A replay after the race: invalid_grant, and the tokens are revoked.
		wantOAuthError(t, racePost(hc, e.srv.URL, "/oauth2/token", form, ""), http.StatusBadRequest, "invalid_grant")
		if e.active(at) {
			t.Errorf("round %d: access token active after the code was replayed", round)
		}
		if rt != "" {
			wantOAuthError(t, e.refresh(rt), http.StatusBadRequest, "invalid_grant")
		}
	}
	t.Logf("%d rounds × %d redemptions: %d rounds revoked by a late redemption during the race, %d with no winner",
		rounds, workers, revokedDuringRace, zeroWinners)
}

// TestRaceRevokeVersusRefreshHTTP: a revocation racing refreshes of the same
// grant. Whatever the interleaving, afterwards no token of the grant is live:
// every token any response returned introspects inactive and refreshes fail.
func TestRaceRevokeVersusRefreshHTTP(t *testing.T) {
	e := newE2E(t)
	hc := raceClient()
	b := e.newBrowser()
	const rounds, refreshers = 20, 4
	refreshWon := 0
	for round := 0; round < rounds; round++ {
		tok := freshGrant(t, e, b)
		// The revocation presents the refresh token: if a refresh rotated it
		// first, the rotated-away token is a replay and still ends the grant.
		// (An access token rotated away before the revocation arrives is just
		// an unknown token: RFC 7009 answers 200 and the grant lives on.)
		revokeWith := tok.RefreshToken
		rs := burst(refreshers+1, func(i int) apiResp {
			if i == 0 {
				return racePost(hc, e.srv.URL, "/oauth2/revoke", url.Values{"token": {revokeWith}, "client_id": {e2ePubID}}, "")
			}
			return racePost(hc, e.srv.URL, "/oauth2/token", url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {e2ePubID},
			}, "")
		})
		if rs[0].Status != http.StatusOK {
			t.Errorf("round %d: revocation: %v", round, rs[0])
		}
		winners, _ := tally(t, "refresh racing revocation", rs[1:])
		if len(winners) > 1 {
			t.Errorf("round %d: %d refresh winners", round, len(winners))
		}
		refreshWon += len(winners)
		ats, rts := []string{tok.AccessToken}, []string{tok.RefreshToken}
		for _, w := range winners {
			ats, rts = append(ats, w.str("access_token")), append(rts, w.str("refresh_token"))
		}
		for _, at := range ats {
			if e.active(at) {
				t.Errorf("round %d: an access token is active after the revocation", round)
			}
		}
		for _, rt := range rts {
			wantOAuthError(t, e.refresh(rt), http.StatusBadRequest, "invalid_grant")
		}
	}
	t.Logf("%d rounds: a refresh won against the revocation %d times (its tokens were dead afterwards every time)", rounds, refreshWon)
}
