package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/gorilla/csrf"
	"github.com/gorilla/mux"
	"golang.org/x/crypto/hkdf"

	"github.com/authd/authd/sessions"
	"github.com/authd/authd/storage"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Users is what the pages need from the user store.
type Users interface {
	GetUserByUsername(ctx context.Context, username string) (*storage.User, error)
}

// Sessions runs browser sign-in sessions (sessions.Manager).
type Sessions interface {
	Start(w http.ResponseWriter, r *http.Request, subject, username string) (*sessions.Session, error)
	Current(r *http.Request) (*sessions.Session, bool)
	SignOut(w http.ResponseWriter, r *http.Request, reason string) error
	List(ctx context.Context, subject string) ([]sessions.Session, error)
	EndFor(ctx context.Context, subject, sid, reason string) error
	EndAll(ctx context.Context, subject, reason string, keep ...string) (int, error)
	RememberGrant(ctx context.Context, s *sessions.Session, client, grant string, offline bool)
}

// Config configures Pages.
type Config struct {
	Users    Users
	Sessions Sessions
	// Secret is the system secret; the CSRF key is derived from it.
	Secret []byte
	// Secure marks cookies Secure (the issuer is https).
	Secure bool
	Logger *slog.Logger
	// Devices backs the "your devices" page; the page is not mounted when
	// it is nil.
	Devices Devices
	// SignInLimiter, when set, throttles failed sign-ins.
	SignInLimiter SignInLimiter
	// UserCodeFailures wrong user codes per source address, and per login
	// session, within UserCodeWindow make the device page refuse until the
	// window ends (0: 10 and 10m).
	UserCodeFailures int
	UserCodeWindow   time.Duration
}

// SignInLimiter throttles failed sign-ins (ratelimit.Limiter): it wraps the
// sign-in handler, and refuse renders the page a blocked person sees.
type SignInLimiter interface {
	SignIn(refuse func(w http.ResponseWriter, r *http.Request, retryAfter int), h http.Handler) http.Handler
}

// Pages renders authd's HTML and signs browsers in and out (over Sessions).
type Pages struct {
	cfg  Config
	tmpl *template.Template
	csrf func(http.Handler) http.Handler
	// dummyHash is verified when a username is unknown, so a login takes
	// as long for a missing user as for a wrong password.
	dummyHash string
	// hashSlots bounds concurrent password checks: each argon2id check
	// takes 19 MiB and ~35 ms of a core, so unbounded concurrency only
	// grows memory (measured: 1.2-1.6 GB at 64 concurrent sign-ins) and
	// latency without adding throughput.
	hashSlots chan struct{}
}

// The cookies' names. With an https issuer they carry the __Host- prefix
// (RFC 6265bis §4.1.3.2): the browser then takes them only Secure, for
// Path=/ and without Domain, so no other host under the same domain and no
// plain-http page can set or shadow them.
const (
	SessionCookie = sessions.Cookie
	CSRFCookie    = "authd_csrf"
	hostPrefix    = "__Host-"
)

// cookieName is name, prefixed with __Host- when the cookies are Secure.
func cookieName(name string, secure bool) string {
	if secure {
		return hostPrefix + name
	}
	return name
}

// New parses the templates and prepares CSRF protection.
func New(cfg Config) (*Pages, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.UserCodeFailures <= 0 {
		cfg.UserCodeFailures = 10
	}
	if cfg.UserCodeWindow <= 0 {
		cfg.UserCodeWindow = 10 * time.Minute
	}
	t, err := template.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := hkdf.New(sha256.New, cfg.Secret, nil, []byte("authd csrf v1")).Read(key); err != nil {
		return nil, err
	}
	dummy, err := storage.HashPassword("authd-timing-equaliser")
	if err != nil {
		return nil, err
	}
	p := &Pages{cfg: cfg, tmpl: t, dummyHash: dummy, hashSlots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	p.csrf = csrf.Protect(key,
		csrf.Secure(cfg.Secure),
		csrf.HttpOnly(true),
		csrf.SameSite(csrf.SameSiteLaxMode),
		csrf.Path("/"),
		csrf.CookieName(cookieName(CSRFCookie, cfg.Secure)),
		csrf.FieldName("csrf_token"),
		csrf.ErrorHandler(http.HandlerFunc(p.csrfFailed)),
	)
	return p, nil
}

// CSRF wraps h with CSRF protection for its unsafe methods, behind the
// form bound (forms.go): the body is bounded and parsed before the CSRF
// check reads it.
func (p *Pages) CSRF(h http.Handler) http.Handler {
	protected := p.csrf(h)
	if p.cfg.Secure {
		return p.boundedForm(protected)
	}
	// gorilla/csrf assumes TLS and checks the Referer against https; tell
	// it this deployment is plain HTTP (development, tests).
	return p.boundedForm(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protected.ServeHTTP(w, csrf.PlaintextHTTPRequest(r))
	}))
}

func (p *Pages) csrfFailed(w http.ResponseWriter, r *http.Request) {
	p.cfg.Logger.InfoContext(r.Context(), "csrf check failed", "path", r.URL.Path, "reason", csrf.FailureReason(r))
	p.RenderError(w, r, http.StatusForbidden, "Form expired", "This form has expired or was not sent by this site. Go back, reload the page and try again.")
}

// Routes mounts the pages' own routes: static files, /login, /logout.
func (p *Pages) Routes(r *mux.Router) {
	static, _ := fs.Sub(staticFS, "static")
	r.PathPrefix("/static/").Handler(http.StripPrefix("/static/", http.FileServer(http.FS(static))))
	var login http.Handler = http.HandlerFunc(p.login)
	if p.cfg.SignInLimiter != nil {
		// Inside CSRF: the check there has parsed the form, so the
		// limiter reads the username exactly as the handler will.
		login = p.cfg.SignInLimiter.SignIn(p.tooManySignIns, login)
	}
	r.Handle("/login", p.CSRF(login)).Methods(http.MethodGet, http.MethodPost)
	r.Handle("/logout", p.CSRF(http.HandlerFunc(p.logout))).Methods(http.MethodPost)
	if p.cfg.Devices != nil {
		p.deviceRoutes(r)
	}
}

// Current returns the session of this browser, if any (and marks it used).
func (p *Pages) Current(r *http.Request) (*sessions.Session, bool) { return p.cfg.Sessions.Current(r) }

// SignOut ends this browser's session for reason and clears its cookie.
func (p *Pages) SignOut(w http.ResponseWriter, r *http.Request, reason string) error {
	return p.cfg.Sessions.SignOut(w, r, reason)
}

// RememberGrant records that the browser signed in as s authorized grant
// of client (offline: it holds offline_access, so ending s leaves it).
func (p *Pages) RememberGrant(ctx context.Context, s *sessions.Session, client, grant string, offline bool) {
	p.cfg.Sessions.RememberGrant(ctx, s, client, grant, offline)
}

// SafeNext returns next if it is a local path authd may send a browser back
// to after sign-in, else "/login".
func SafeNext(next string) string {
	if next == "" || len(next) > 8192 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/login"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/login"
	}
	return next
}

func (p *Pages) login(w http.ResponseWriter, r *http.Request) {
	next := SafeNext(r.FormValue("next"))
	if r.Method == http.MethodGet {
		if s, ok := p.Current(r); ok && next == "/login" {
			p.render(w, r, http.StatusOK, "signedin.html", map[string]any{"Title": "Signed in", "Username": s.Username})
			return
		}
		p.RenderLogin(w, r, http.StatusOK, LoginPage{Next: next})
		return
	}
	username := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	u, err := p.authenticate(r.Context(), username, password)
	if errors.Is(err, errBadCredentials) {
		p.RenderLogin(w, r, http.StatusUnauthorized, LoginPage{Next: next, Username: username, Error: "Wrong username or password."})
		return
	} else if err != nil {
		p.cfg.Logger.ErrorContext(r.Context(), "login failed", "err", err)
		p.RenderError(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "Signing in is temporarily unavailable. Please try again in a moment.")
		return
	}
	if _, err := p.cfg.Sessions.Start(w, r, u.ID, u.Username); err != nil {
		p.cfg.Logger.ErrorContext(r.Context(), "start login session", "err", err)
		p.RenderError(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "Signing in is temporarily unavailable. Please try again in a moment.")
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

var errBadCredentials = errors.New("bad credentials")

// errBusy: too many sign-ins are being checked; the caller may retry.
var errBusy = errors.New("web: password checks saturated")

func (p *Pages) authenticate(ctx context.Context, username, password string) (*storage.User, error) {
	if username == "" || password == "" || len(username) > 200 || len(password) > 1024 {
		return nil, errBadCredentials
	}
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	select {
	case p.hashSlots <- struct{}{}:
		defer func() { <-p.hashSlots }()
	case <-wait.Done():
		return nil, errBusy
	}
	u, err := p.cfg.Users.GetUserByUsername(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		_, _ = storage.VerifyPassword(p.dummyHash, password)
		return nil, errBadCredentials
	} else if err != nil {
		return nil, err
	}
	ok, err := storage.VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errBadCredentials
	}
	return u, nil
}

// tooManySignIns is the page a sign-in blocked by the limiter gets.
func (p *Pages) tooManySignIns(w http.ResponseWriter, r *http.Request, secs int) {
	p.RenderError(w, r, http.StatusTooManyRequests, "Too many attempts",
		fmt.Sprintf("Too many failed sign-in attempts. Try again in %d seconds.", secs))
}

// logout signs this browser out: its session ends (with the grants born
// from it that are not offline) and its cookie goes.
func (p *Pages) logout(w http.ResponseWriter, r *http.Request) {
	if err := p.SignOut(w, r, storage.RevokedLogout); err != nil {
		p.cfg.Logger.ErrorContext(r.Context(), "sign out", "err", err)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// LoginPage is the data of the sign-in page.
type LoginPage struct {
	Next, Username, Error, Client string
}

// RenderLogin renders the sign-in form.
func (p *Pages) RenderLogin(w http.ResponseWriter, r *http.Request, status int, d LoginPage) {
	p.render(w, r, status, "login.html", map[string]any{
		"Title": "Sign in", "Next": d.Next, "Username": d.Username, "Error": d.Error, "Client": d.Client,
	})
}

// Scope is one line of the consent page.
type Scope struct{ Name, Description string }

// ConsentPage is the data of the consent page.
type ConsentPage struct {
	Client, Username string
	Scopes           []Scope
	// Action is where the allow/deny form posts (it carries the
	// authorization request).
	Action string
}

// RenderConsent renders the consent form.
func (p *Pages) RenderConsent(w http.ResponseWriter, r *http.Request, d ConsentPage) {
	p.render(w, r, http.StatusOK, "consent.html", map[string]any{
		"Title": "Allow access", "Client": d.Client, "Username": d.Username, "Scopes": d.Scopes, "Action": d.Action,
	})
}

// RenderError renders an error page a person can read.
func (p *Pages) RenderError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	p.render(w, r, status, "error.html", map[string]any{"Title": title, "Message": msg})
}

func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	data["CSRF"] = csrf.TemplateField(r)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := p.tmpl.ExecuteTemplate(w, name, data); err != nil {
		p.cfg.Logger.ErrorContext(r.Context(), "render page", "page", name, "err", err)
	}
}

// SecurityHeaders sets the headers every page and endpoint carries.
func SecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		// Shared values (see securityHeaderValues), assigned rather than
		// Set: these four headers are on every response.
		hd["Content-Security-Policy"] = cspValue
		hd["X-Content-Type-Options"] = nosniffValue
		hd["Referrer-Policy"] = referrerValue
		hd["X-Frame-Options"] = denyValue
		h.ServeHTTP(w, r)
	})
}

// securityHeaderValues: one-element literals, so a handler that Adds to one
// of these headers copies instead of writing into the shared array.
var (
	cspValue     = []string{"default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"}
	nosniffValue = []string{"nosniff"}
	// same-origin, not no-referrer: under no-referrer browsers send
	// "Origin: null" with form POSTs, which the CSRF check (rightly)
	// rejects. Cross-origin navigations still carry no Referer.
	referrerValue = []string{"same-origin"}
	denyValue     = []string{"DENY"}
)

// StrictTransport adds HSTS (RFC 6797) for an https issuer: browsers then
// never reach the sign-in pages over plain HTTP.
func StrictTransport(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}
