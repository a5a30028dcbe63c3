package oauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

// Saturated secret checks reach a client as 503 temporarily_unavailable
// with Retry-After, however fosite wrapped them (inside invalid_client): a
// 401 would tell a client with the right secret it is wrong, and the
// limiter would count it.
func TestSecretChecksBusyIs503(t *testing.T) {
	wrapped := fosite.ErrInvalidClient.WithWrap(storage.ErrSecretChecksBusy).WithDebug("busy")
	if !isUnavailable(wrapped) {
		t.Fatal("busy inside invalid_client is not unavailable")
	}
	w := httptest.NewRecorder()
	writeError(w, protocolError(wrapped))
	var body map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" || w.Header().Get("Retry-After") == "" {
		t.Errorf("answer %d %v, Retry-After %q", w.Code, body, w.Header().Get("Retry-After"))
	}
	if w.Header().Get("WWW-Authenticate") != "" {
		t.Error("a busy answer challenges for credentials")
	}
}
