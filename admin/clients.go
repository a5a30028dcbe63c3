package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"github.com/authd/authd/clients"
	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/storage"
)

// Clients is what the admin API needs of the client lifecycle
// (clients.Service), the code path `authd clients …` and registration
// take.
type Clients interface {
	Create(ctx context.Context, n clients.New) (clients.Created, error)
	Get(ctx context.Context, id string) (*storage.Client, error)
	Update(ctx context.Context, id string, u storage.ClientUpdate) (*storage.Client, error)
	Delete(ctx context.Context, id string) error
	RotateSecret(ctx context.Context, id string, overlap time.Duration) (string, time.Time, error)
}

// ClientPages lists clients one page at a time (postgres.DB), ordered by id.
type ClientPages interface {
	ListClientsAfter(ctx context.Context, after string, limit int) ([]storage.Client, error)
}

// clientError words the client lifecycle's errors for the API: a refused
// registration with its RFC 7591 §3.2.2 code.
func clientError(err error) error {
	var invalid *clients.Error
	switch {
	case errors.As(err, &invalid):
		return problem(http.StatusBadRequest, invalid.Code, invalid.Description()+".")
	case errors.Is(err, storage.ErrConflict):
		return problem(http.StatusConflict, "conflict", "A client with this client_id exists.")
	case errors.Is(err, storage.ErrNotFound):
		return problem(http.StatusNotFound, "not_found", "No such client.")
	case errors.Is(err, storage.ErrNoSecret):
		return problem(http.StatusBadRequest, "invalid_request", "The client has no secret to rotate (token_endpoint_auth_method none or private_key_jwt).")
	}
	return err
}

func problem(status int, code, description string) error {
	return &httpx.Error{Problem: httpx.Problem{Status: status, Code: code, Description: description}}
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request) {
	p, err := readPage(r, "c")
	var cs []storage.Client
	if err == nil {
		cs, err = a.ClientPages.ListClientsAfter(r.Context(), p.key, p.limit+1)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := list[clients.Metadata]{Items: []clients.Metadata{}}
	if len(cs) > p.limit {
		cs = cs[:p.limit]
		out.NextCursor = cursor("c", cs[len(cs)-1].ID)
	}
	for _, c := range cs {
		out.Items = append(out.Items, clients.ToMetadata(c))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// createClient registers the client the body's metadata describes; without
// a client_id one is generated. A generated secret is in this answer only.
func (a *API) createClient(w http.ResponseWriter, r *http.Request) {
	var m clients.Metadata
	if err := readJSON(w, r, &m); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := m.Client()
	if err != nil {
		a.fail(w, r, clientError(err))
		return
	}
	c.ID = m.ClientID
	created, err := a.Clients.Create(r.Context(), clients.New{Client: c, GenerateID: m.ClientID == "", Secret: m.ClientSecret})
	if err != nil {
		a.fail(w, r, clientError(err))
		return
	}
	out := clients.ToMetadata(created.Client)
	out.ClientSecret = created.Secret
	a.Logger.InfoContext(r.Context(), "admin api: client created", "client_id", out.ClientID)
	w.Header().Set("Location", "/admin/clients/"+url.PathEscape(out.ClientID))
	httpx.WriteJSON(w, http.StatusCreated, out)
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request) {
	c, err := a.Clients.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		a.fail(w, r, clientError(err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, clients.ToMetadata(*c))
}

// updateClient replaces the client's registration with the body's metadata
// (an omitted field takes its default, RFC 7592 §2.2); the id, secret,
// authentication method and keys stay, and no grant is revoked.
func (a *API) updateClient(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	var m clients.Metadata
	if err := readJSON(w, r, &m); err != nil {
		a.fail(w, r, err)
		return
	}
	if m.ClientID != "" && m.ClientID != id {
		a.fail(w, r, problem(http.StatusBadRequest, clients.InvalidClientMetadata, "client_id must be the client's id."))
		return
	}
	if m.ClientSecret != "" {
		a.fail(w, r, problem(http.StatusBadRequest, clients.InvalidClientMetadata, "client_secret cannot be set; use rotate-secret."))
		return
	}
	cur, err := a.Clients.Get(r.Context(), id)
	var u storage.ClientUpdate
	if err == nil {
		u, err = m.Update(*cur)
	}
	var c *storage.Client
	if err == nil {
		c, err = a.Clients.Update(r.Context(), id, u)
	}
	if err != nil {
		a.fail(w, r, clientError(err))
		return
	}
	a.Logger.InfoContext(r.Context(), "admin api: client updated", "client_id", id)
	httpx.WriteJSON(w, http.StatusOK, clients.ToMetadata(*c))
}

// deleteClient deletes the client and ends every token of it.
func (a *API) deleteClient(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if err := a.Clients.Delete(r.Context(), id); err != nil {
		a.fail(w, r, clientError(err))
		return
	}
	a.Logger.InfoContext(r.Context(), "admin api: client deleted", "client_id", id)
	w.WriteHeader(http.StatusNoContent)
}

// rotateBody is the optional body of rotate-secret: how long the replaced
// secret keeps working (a Go duration such as "24h"; absent: it ends now).
type rotateBody struct {
	Overlap string `json:"overlap"`
}

// rotated is rotate-secret's answer: the new secret, shown once, and when
// the replaced one stops working (absent: it already has).
type rotated struct {
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret"`
	ClientSecretExpiresAt   int64  `json:"client_secret_expires_at"`
	PreviousSecretExpiresAt int64  `json:"previous_secret_expires_at,omitempty"`
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	var b rotateBody
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &b); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	var overlap time.Duration
	if b.Overlap != "" {
		var err error
		if overlap, err = time.ParseDuration(b.Overlap); err != nil || overlap < 0 {
			a.fail(w, r, httpx.Invalid(`overlap must be a non-negative duration such as "24h".`))
			return
		}
	}
	secret, until, err := a.Clients.RotateSecret(r.Context(), id, overlap)
	if err != nil {
		a.fail(w, r, clientError(err))
		return
	}
	out := rotated{ClientID: id, ClientSecret: secret}
	if !until.IsZero() {
		out.PreviousSecretExpiresAt = until.Unix()
	}
	a.Logger.InfoContext(r.Context(), "admin api: client secret rotated", "client_id", id, "overlap", overlap.String())
	httpx.WriteJSON(w, http.StatusOK, out)
}
