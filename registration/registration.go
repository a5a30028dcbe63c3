package registration

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/authd/authd/clients"
	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/storage"
)

// Mode is who may register clients (AUTHD_REGISTRATION).
type Mode string

const (
	// Off: no registration endpoint (the default).
	Off Mode = "off"
	// Token: registration needs the initial access token
	// (AUTHD_REGISTRATION_TOKEN) as a Bearer token.
	Token Mode = "token"
	// Open: anyone may register.
	Open Mode = "open"
)

// Path is the registration endpoint; a client's registration_client_uri
// is Path + "/" + its id.
const Path = "/oauth2/register"

// Endpoint is the registration endpoint discovery advertises for issuer:
// "" when mode is Off.
func Endpoint(issuer string, mode Mode) string {
	if mode != Token && mode != Open {
		return ""
	}
	return issuer + Path
}

// Clients is the client lifecycle (clients.Service).
type Clients interface {
	Create(ctx context.Context, n clients.New) (clients.Created, error)
	Get(ctx context.Context, id string) (*storage.Client, error)
	Update(ctx context.Context, id string, u storage.ClientUpdate) (*storage.Client, error)
	Delete(ctx context.Context, id string) error
}

// Tokens finds a registered client's registration access token hash
// (postgres.DB): storage.ErrNotFound for a client that was not registered
// here (or does not exist).
type Tokens interface {
	RegistrationTokenHash(ctx context.Context, clientID string) ([]byte, error)
}

// Limiter counts registrations per source address (ratelimit.Window):
// ok false when the source is over its limit, retry how long until it is
// not.
type Limiter interface {
	Take(ctx context.Context, key string) (ok bool, retry time.Duration, err error)
}

// API is the registration area.
type API struct {
	Mode Mode
	// InitialToken is required in Token mode (at least 32 characters,
	// checked at startup).
	InitialToken string
	Issuer       string
	Clients      Clients
	Tokens       Tokens
	Limit        Limiter
	Logger       *slog.Logger
}

// Mount mounts the endpoints; with Mode Off, none.
func (a *API) Mount(r *mux.Router) {
	if Endpoint(a.Issuer, a.Mode) == "" {
		return
	}
	// Any web origin may call it (an app running in a browser, such as a
	// browser-based MCP client, registers itself): it takes no cookies, only
	// bearer tokens, so "*" lends a page nothing it does not already hold.
	r.HandleFunc(Path, httpx.AnyOrigin(a.register)).Methods(http.MethodPost)
	r.HandleFunc(Path, httpx.Preflight("POST", true)).Methods(http.MethodOptions)
	r.HandleFunc(Path+"/{id}", httpx.AnyOrigin(a.managed(a.read))).Methods(http.MethodGet)
	r.HandleFunc(Path+"/{id}", httpx.AnyOrigin(a.managed(a.update))).Methods(http.MethodPut)
	r.HandleFunc(Path+"/{id}", httpx.AnyOrigin(a.managed(a.remove))).Methods(http.MethodDelete)
	r.HandleFunc(Path+"/{id}", httpx.Preflight("GET, PUT, DELETE", true)).Methods(http.MethodOptions)
}

// initialTokenOK: the request may register (Open mode, or the initial
// access token in constant time).
func (a *API) initialTokenOK(r *http.Request) (presented, ok bool) {
	if a.Mode == Open {
		return false, true
	}
	tok, presented := httpx.BearerHeader(r)
	return presented, presented && subtle.ConstantTimeCompare([]byte(tok), []byte(a.InitialToken)) == 1
}

// Bounds on what a registration may store.
const (
	maxName = 200
	maxURIs = 30
)

// selfPolicy is what a client that registers itself may not ask for, on
// top of clients.Check: the right to introspect every token and the
// resource a resource server protects (operators grant them), a jwks_uri (authd would fetch a URL of the registrant's
// choice), in Open mode client_credentials (tokens no user consented
// to), and more than a page's worth of name and URIs. On an update, cur
// is the registration as it is: what it already has (an operator gave
// it) may stay.
func (a *API) selfPolicy(m clients.Metadata, cur *storage.Client) error {
	if cur == nil {
		cur = &storage.Client{}
	}
	var problems []string
	if m.Introspect && !cur.Introspect {
		problems = append(problems, "introspect is granted by an operator, not at registration")
	}
	if m.Resource != "" && m.Resource != cur.Resource {
		problems = append(problems, "resource (the API a resource server protects) is set by an operator, not at registration")
	}
	if m.BackchannelLogoutURI != "" && m.BackchannelLogoutURI != cur.BackchannelLogoutURI {
		problems = append(problems, "backchannel_logout_uri is set by an operator, not at registration (authd would POST to a URL of the registrant's choice)")
	}
	if m.JWKSURI != "" && m.JWKSURI != cur.JWKSURI {
		problems = append(problems, "jwks_uri is not accepted at registration: register the key set as jwks")
	}
	cc := storage.ClientCredentialsGrantType
	if a.Mode == Open && slices.Contains(m.GrantTypes, cc) && !slices.Contains(cur.GrantTypes, cc) {
		problems = append(problems, "client_credentials needs registration with an initial access token")
	}
	if utf8.RuneCountInString(m.ClientName) > maxName {
		problems = append(problems, fmt.Sprintf("client_name must be at most %d characters", maxName))
	}
	if len(m.RedirectURIs)+len(m.PostLogoutRedirectURIs)+len(m.AllowedCORSOrigins) > maxURIs {
		problems = append(problems, fmt.Sprintf("at most %d redirect URIs, post-logout redirect URIs and CORS origins in all", maxURIs))
	}
	if len(problems) > 0 {
		return &clients.Error{Code: clients.InvalidClientMetadata, Problems: problems}
	}
	return nil
}
