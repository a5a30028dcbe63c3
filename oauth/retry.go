package oauth

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

// The refresh retry window (AUTHD_REFRESH_RETRY_WINDOW, off by default).
//
// A client whose refresh response was lost (a dropped connection, a crash
// before it saved the new tokens) still holds only the rotated-away refresh
// token. Without a window, its retry is reuse and revokes the grant. With a
// window, the response of the refresh that rotated the token is kept in
// Redis, sealed (keys.Sealer: AES-256-GCM) under a key derived from AUTHD_SECRET, and
// a retry with the same token by the same (authenticated) client within the
// window receives that very response again: no new tokens are minted (no
// double spend) and the grant survives. After the window, reuse revokes the
// grant as usual. Any other client presenting the token within the window
// gets invalid_grant without revocation. A public client authenticates with
// nothing but its client_id, so for it the kept response is also bound to
// the address the refresh came from (retryBinding): a thief replaying the
// just-rotated token from elsewhere gets invalid_grant, not the successor.

// retryRefresh answers a refresh retry from the kept response. It reports
// whether it wrote a response; when it did not, the request goes on to
// fosite as usual.
func (s *Server) retryRefresh(ctx context.Context, w http.ResponseWriter, r *http.Request) bool {
	if s.retry == nil || r.PostForm.Get("grant_type") != "refresh_token" {
		return false
	}
	oldSig := s.strategy.RefreshTokenSignature(ctx, r.PostForm.Get("refresh_token"))
	if oldSig == "" {
		return false
	}
	succ, err := s.store.GetSuccessor(ctx, oldSig)
	if err != nil {
		return false
	}
	client, err := s.fosite.AuthenticateClient(ctx, r, r.PostForm)
	if err != nil || client.GetID() != succ.ClientID {
		return false
	}
	body, err := s.retry.Open(succ.Sealed, retryBinding(oldSig, client, storage.RequestMetaFrom(ctx).IP))
	if err != nil {
		if !client.IsPublic() { // for a public client: a retry from another address
			s.log.ErrorContext(ctx, "refresh retry: cannot open the kept response", "err", err)
		}
		return false
	}
	s.metrics.tokensIssued.WithLabelValues("refresh_token_retry").Inc()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_, _ = w.Write(body)
	return true
}

// keepRefreshResponse seals and keeps a refresh response for the window.
// Failing to keep it only costs the client its retry, never the refresh.
func (s *Server) keepRefreshResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) {
	if s.retry == nil || !ar.GetGrantTypes().ExactOne("refresh_token") {
		return
	}
	oldSig := s.strategy.RefreshTokenSignature(ctx, ar.GetRequestForm().Get("refresh_token"))
	body, err := json.Marshal(resp.ToMap())
	if err != nil || oldSig == "" {
		return
	}
	sealed, err := s.retry.Seal(body, retryBinding(oldSig, ar.GetClient(), storage.RequestMetaFrom(ctx).IP))
	if err == nil {
		err = s.store.PutSuccessor(ctx, oldSig, fositestore.Successor{ClientID: ar.GetClient().GetID(), Sealed: sealed})
	}
	if err != nil {
		s.log.WarnContext(ctx, "refresh retry: could not keep the response", "err", err)
	}
}

// retryBinding is what a kept refresh response is sealed to (the AEAD's
// additional data): the signature of the token it rotated away and, for a
// public client, the client address of the refresh, so that only a retry
// from that address opens it.
func retryBinding(oldSig string, client fosite.Client, ip string) []byte {
	if client != nil && client.IsPublic() {
		return []byte(oldSig + "|" + ip)
	}
	return []byte(oldSig)
}
