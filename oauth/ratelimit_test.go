package oauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// peekForm must hand the endpoint exactly the body the client sent, whatever
// it is: the limiter only looks.
func TestPeekFormLeavesTheBodyIntact(t *testing.T) {
	big := "token=" + strings.Repeat("a", 70<<10)
	for _, tc := range []struct {
		name, ct, body, clientID string
	}{
		{"form", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=app", "app"},
		{"form with charset", "application/x-www-form-urlencoded; charset=UTF-8", "client_id=a%20b", "a b"},
		{"repeated", "application/x-www-form-urlencoded", "client_id=a&client_id=b", "a"},
		{"malformed", "application/x-www-form-urlencoded", "client_id=%zz&x=%", ""},
		{"over the limit", "application/x-www-form-urlencoded", big + "&client_id=app", ""},
		{"JSON", "application/json", `{"client_id":"app"}`, ""},
		{"empty", "application/x-www-form-urlencoded", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ct)
			form := peekForm(r, 64<<10)
			if got := requestClientID("", false, form); got != tc.clientID {
				t.Errorf("client id %q, want %q", got, tc.clientID)
			}
			b, err := io.ReadAll(r.Body)
			if err != nil || string(b) != tc.body {
				t.Errorf("body after peeking: %d bytes (err %v), want the %d sent", len(b), err, len(tc.body))
			}
		})
	}
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
	r.SetBasicAuth("my%20client", "secret")
	id, _, basic := r.BasicAuth()
	if got := requestClientID(id, basic, nil); got != "my client" {
		t.Errorf("Basic client id %q", got)
	}
}
