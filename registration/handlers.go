package registration

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/authd/authd/clients"
	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/ratelimit"
	"github.com/authd/authd/storage"
)

// maxBody bounds a registration request's metadata.
const maxBody = 64 << 10

// response is RFC 7591's client information response (§3.2.1), also
// RFC 7592's.
type response struct {
	clients.Metadata
	RegistrationAccessToken string `json:"registration_access_token"`
	RegistrationClientURI   string `json:"registration_client_uri"`
}

func (a *API) answer(c storage.Client, secret, token string) response {
	m := clients.ToMetadata(c)
	m.ClientSecret = secret
	return response{Metadata: m, RegistrationAccessToken: token, RegistrationClientURI: a.Issuer + Path + "/" + c.ID}
}

// register is RFC 7591 §3: parse, check (the policy, then again as the
// client is created), count the source, create.
func (a *API) register(w http.ResponseWriter, r *http.Request) {
	presented, ok := a.initialTokenOK(r)
	if !ok {
		a.unauthorized(w, presented, "The initial access token is missing or wrong.")
		return
	}
	m, err := readMetadata(r)
	if err == nil {
		err = a.selfPolicy(m, nil)
	}
	var c storage.Client
	if err == nil {
		c, err = m.Client()
	}
	if err == nil { // refused metadata does not count against the source
		c.ID = clients.GenerateID()
		err = clients.Check(c, "")
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !a.admit(w, r) {
		return
	}
	token := storage.GenerateClientSecret()
	hash, err := storage.HashClientSecret(token)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	created, err := a.Clients.Create(r.Context(), clients.New{Client: c, TokenHash: hash})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.Logger.InfoContext(r.Context(), "client registered", "client_id", created.Client.ID, "client_name", created.Client.Name,
		"mode", string(a.Mode), "ip", httpx.ClientIP(r), "redirect_uris", created.Client.RedirectURIs,
		"grant_types", created.Client.GrantTypes, "public", created.Client.Public)
	httpx.WriteJSON(w, http.StatusCreated, a.answer(created.Client, created.Secret, token))
}

// admit counts the registration against its source address; over the
// limit it answers 429, when the count cannot be kept 503.
func (a *API) admit(w http.ResponseWriter, r *http.Request) bool {
	if a.Limit == nil {
		return true
	}
	ok, retry, err := a.Limit.Take(r.Context(), ratelimit.Source(httpx.ClientIP(r)))
	switch {
	case err != nil:
		a.Logger.ErrorContext(r.Context(), "registration limit", "err", err)
		w.Header().Set("Retry-After", "1")
		httpx.WriteJSON(w, http.StatusServiceUnavailable, problem("temporarily_unavailable", "Registration is unavailable. Retry later."))
		return false
	case !ok:
		secs := int(math.Ceil(retry.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		a.Logger.WarnContext(r.Context(), "registration limit reached", "ip", httpx.ClientIP(r))
		httpx.WriteJSON(w, http.StatusTooManyRequests, problem("temporarily_unavailable",
			fmt.Sprintf("Too many registrations from this address; retry after %d s.", secs)))
		return false
	}
	return true
}

// managed admits RFC 7592 requests bearing the client's registration
// access token; a wrong or missing token, an unknown client and one not
// registered here are all the same 401.
func (a *API) managed(h func(w http.ResponseWriter, r *http.Request, id, token string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["id"]
		tok, presented := httpx.BearerHeader(r)
		if !presented {
			a.unauthorized(w, false, "The registration access token is missing.")
			return
		}
		hash, err := a.Tokens.RegistrationTokenHash(r.Context(), id)
		if err == nil {
			err = storage.VerifyClientSecret(hash, tok)
		}
		switch {
		case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrSecretMismatch):
			a.unauthorized(w, true, "The registration access token is wrong, or the client does not exist.")
		case err != nil:
			a.fail(w, r, err)
		default:
			h(w, r, id, tok)
		}
	}
}

func (a *API) read(w http.ResponseWriter, r *http.Request, id, token string) {
	c, err := a.Clients.Get(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, a.answer(*c, "", token))
}

// update is RFC 7592 §2.2: the metadata replaces the registration, but
// for introspect, which stays as an operator set it.
func (a *API) update(w http.ResponseWriter, r *http.Request, id, token string) {
	m, err := readMetadata(r)
	var cur *storage.Client
	if err == nil {
		cur, err = a.Clients.Get(r.Context(), id)
	}
	if err == nil {
		err = a.selfPolicy(m, cur)
	}
	if err == nil {
		err = sameClient(m, *cur)
	}
	var u storage.ClientUpdate
	if err == nil {
		u, err = m.Update(*cur)
		u.Introspect = nil // an operator's to give and take
	}
	if err == nil {
		cur, err = a.Clients.Update(r.Context(), id, u)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.Logger.InfoContext(r.Context(), "registered client updated", "client_id", id, "ip", httpx.ClientIP(r),
		"redirect_uris", cur.RedirectURIs, "grant_types", cur.GrantTypes)
	httpx.WriteJSON(w, http.StatusOK, a.answer(*cur, "", token))
}

// sameClient: an update names the client it updates, and a client_secret
// in it is the current one (RFC 7592 §2.2: a client cannot choose its
// secret).
func sameClient(m clients.Metadata, cur storage.Client) error {
	if m.ClientID != cur.ID {
		return &clients.Error{Code: clients.InvalidClientMetadata, Problems: []string{"client_id must be the client's id"}}
	}
	if m.ClientSecret != "" && storage.VerifyClientSecret(cur.SecretHash, m.ClientSecret) != nil {
		return &clients.Error{Code: clients.InvalidClientMetadata, Problems: []string{"client_secret must be the client's current secret (or left out)"}}
	}
	return nil
}

func (a *API) remove(w http.ResponseWriter, r *http.Request, id, _ string) {
	if err := a.Clients.Delete(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.Logger.InfoContext(r.Context(), "registered client deleted", "client_id", id, "ip", httpx.ClientIP(r))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// readMetadata reads the request's JSON metadata (at most maxBody bytes).
func readMetadata(r *http.Request) (clients.Metadata, error) {
	var m clients.Metadata
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return m, &clients.Error{Code: clients.InvalidClientMetadata, Problems: []string{"the request must be application/json"}}
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	if err := dec.Decode(&m); err != nil {
		return m, &clients.Error{Code: clients.InvalidClientMetadata, Problems: []string{"the metadata is not a JSON object of RFC 7591 fields (or exceeds 64 KiB): " + jsonProblem(err)}}
	}
	return m, nil
}

// jsonProblem says what was wrong with the JSON, without echoing it.
func jsonProblem(err error) string {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return "field " + typ.Field + " has the wrong type"
	}
	return "malformed JSON"
}

// unauthorized answers 401 with an RFC 6750 challenge: with error
// invalid_token when a token was presented, without when none was.
func (a *API) unauthorized(w http.ResponseWriter, presented bool, desc string) {
	ch := `Bearer realm="authd-registration"`
	if presented {
		ch += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", ch)
	httpx.WriteJSON(w, http.StatusUnauthorized, problem("invalid_token", desc))
}

// fail answers an error: a refused registration 400 with its RFC 7591
// code, anything else through the JSON APIs' funnel (404, 503, 500).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var invalid *clients.Error
	if errors.As(err, &invalid) {
		httpx.WriteJSON(w, http.StatusBadRequest, problem(invalid.Code, invalid.Description()))
		return
	}
	httpx.WriteError(w, r, a.Logger, "registration", err)
}

func problem(code, desc string) map[string]string {
	return map[string]string{"error": code, "error_description": desc}
}
