package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/ratelimit"
	"github.com/authd/authd/sessions"
	"github.com/authd/authd/storage"
)

// The device verification page (RFC 8628 §3.3): a signed-in person enters
// (or confirms) the user code shown on a device, sees which app asks for
// what, and approves or denies. It works without JavaScript.

// UserCodeRequest is a pending device authorization as the page shows it.
type UserCodeRequest struct {
	UserCode string // formatted, XXXX-XXXX
	Client   string // display name
	Scopes   []Scope
}

// Errors a DeviceVerifier returns for codes a person mistyped or reused.
var (
	// ErrUserCodeInvalid: no pending authorization has this code (mistyped,
	// expired, or never issued). It counts as a failed guess.
	ErrUserCodeInvalid = errors.New("web: unknown or expired user code")
	// ErrUserCodeUsed: the authorization was already approved or denied.
	ErrUserCodeUsed = errors.New("web: user code already used")
)

// DeviceVerifier looks user codes up and records decisions (implemented by
// package oauth). Codes are passed as typed; the verifier normalises them.
type DeviceVerifier interface {
	// LookupUserCode returns ErrUserCodeInvalid or ErrUserCodeUsed for codes
	// that cannot be approved.
	LookupUserCode(ctx context.Context, code string) (UserCodeRequest, error)
	// ApproveUserCode and DenyUserCode return the same errors.
	ApproveUserCode(ctx context.Context, code string, by Approver) error
	DenyUserCode(ctx context.Context, code string) error
}

// Approver is who approves a device: the signed-in user and the browser
// they approve from, which becomes the grant's device (its label, first
// address).
type Approver struct {
	Subject, Username string
	AuthTime          time.Time
	Device            storage.RequestMeta
}

// FailureCounter keeps fixed-window failure counters (Redis in production).
type FailureCounter interface {
	// CountFailure adds one to key's counter, which starts a window of the
	// given length at its first failure, and returns the new count.
	CountFailure(ctx context.Context, key string, window time.Duration) (int64, error)
	// Failures returns key's count (0 when absent or expired).
	Failures(ctx context.Context, key string) (int64, error)
}

// DeviceVerification serves GET and POST /device. Mount it behind CSRF.
func (p *Pages) DeviceVerification(v DeviceVerifier, fc FailureCounter) http.Handler {
	return &deviceHandler{p: p, v: v, fc: fc}
}

type deviceHandler struct {
	p  *Pages
	v  DeviceVerifier
	fc FailureCounter
}

type devicePage struct {
	Mode     string // enter, confirm, done
	UserCode string
	Error    string
	Req      UserCodeRequest
	Approved bool
	Username string
}

func (h *deviceHandler) render(w http.ResponseWriter, r *http.Request, status int, title string, d devicePage) {
	h.p.render(w, r, status, "device.html", map[string]any{
		"Title": title, "Mode": d.Mode, "UserCode": d.UserCode, "Error": d.Error,
		"Client": d.Req.Client, "Scopes": d.Req.Scopes, "Approved": d.Approved, "Username": d.Username,
	})
}

// userCodeParam is the user code the request carries (as typed, bounded).
func userCodeParam(r *http.Request) string {
	code := strings.TrimSpace(r.FormValue("user_code"))
	if len(code) > 64 {
		code = code[:64]
	}
	return code
}

func (h *deviceHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code := userCodeParam(r)
	user, ok := h.p.Current(r)
	if !ok {
		next := "/device"
		if code != "" {
			next += "?user_code=" + url.QueryEscape(code)
		}
		h.p.RenderLogin(w, r, http.StatusOK, LoginPage{Next: next, Client: "your device"})
		return
	}
	if code == "" {
		h.render(w, r, http.StatusOK, "Connect a device", devicePage{Mode: "enter", Username: user.Username})
		return
	}
	// Guess throttling: Config.UserCodeFailures wrong user codes per
	// window, per source address (ratelimit.Source: an IPv6 /64 is one) and
	// per login session, then the page refuses with 429 until the window
	// ends.
	g := guesses{h: h, user: user, keys: []string{"device:ip:" + ratelimit.Source(httpx.ClientIP(r)), "device:ls:" + user.ID}}
	if g.blocked(w, r) {
		return
	}
	req, ok := h.lookup(w, r, g, code)
	if !ok {
		return
	}
	page := devicePage{Mode: "confirm", UserCode: req.UserCode, Req: req, Username: user.Username}
	if r.Method != http.MethodPost {
		h.render(w, r, http.StatusOK, "Connect "+req.Client, page)
		return
	}
	h.decide(w, r, user, code, page)
}

// guesses throttles wrong user codes per client IP and per login session.
type guesses struct {
	h    *deviceHandler
	user *sessions.Session
	keys []string
}

func (g guesses) tooMany(w http.ResponseWriter, r *http.Request) {
	g.h.render(w, r, http.StatusTooManyRequests, "Too many attempts", devicePage{
		Mode: "enter", Username: g.user.Username,
		Error: "Too many wrong codes were entered. Wait " + waitText(g.h.p.cfg.UserCodeWindow) + ", then try again.",
	})
}

// blocked answers (429, or 503 when the counters are unreachable) and
// reports true when a counter is at its limit.
func (g guesses) blocked(w http.ResponseWriter, r *http.Request) bool {
	for _, k := range g.keys {
		n, err := g.h.fc.Failures(r.Context(), k)
		if err != nil {
			g.h.unavailable(w, r, err)
			return true
		}
		if n >= int64(g.h.p.cfg.UserCodeFailures) {
			g.tooMany(w, r)
			return true
		}
	}
	return false
}

// failed counts a wrong code; it answers and reports true when that reached
// a limit (or the counters are unreachable).
func (g guesses) failed(w http.ResponseWriter, r *http.Request) bool {
	limited := false
	for _, k := range g.keys {
		n, err := g.h.fc.CountFailure(r.Context(), k, g.h.p.cfg.UserCodeWindow)
		if err != nil {
			g.h.unavailable(w, r, err)
			return true
		}
		limited = limited || n >= int64(g.h.p.cfg.UserCodeFailures)
	}
	if limited {
		g.tooMany(w, r)
	}
	return limited
}

// lookup finds the pending request for code; on failure it has answered.
func (h *deviceHandler) lookup(w http.ResponseWriter, r *http.Request, g guesses, code string) (UserCodeRequest, bool) {
	req, err := h.v.LookupUserCode(r.Context(), code)
	switch {
	case errors.Is(err, ErrUserCodeInvalid):
		if g.failed(w, r) {
			return req, false
		}
		h.render(w, r, http.StatusBadRequest, "Connect a device", devicePage{
			Mode: "enter", UserCode: code, Username: g.user.Username,
			Error: "That code is not valid or has expired. Check the code shown on your device and try again.",
		})
		return req, false
	case errors.Is(err, ErrUserCodeUsed):
		h.render(w, r, http.StatusConflict, "Code already used", devicePage{
			Mode: "enter", Username: g.user.Username,
			Error: "This code was already used to approve or deny a device. Start again on your device to get a new code.",
		})
		return req, false
	case err != nil:
		h.unavailable(w, r, err)
		return req, false
	}
	return req, true
}

// decide records the person's Approve or Deny and shows the outcome.
func (h *deviceHandler) decide(w http.ResponseWriter, r *http.Request, user *sessions.Session, code string, page devicePage) {
	var err error
	switch r.PostFormValue("decision") {
	case "approve":
		err = h.v.ApproveUserCode(r.Context(), code, Approver{
			Subject: user.Subject, Username: user.Username, AuthTime: user.AuthTime, Device: httpx.RequestMeta(r),
		})
		page.Approved = true
	case "deny":
		err = h.v.DenyUserCode(r.Context(), code)
	default:
		page.Error = "Choose Approve or Deny."
		h.render(w, r, http.StatusBadRequest, "Connect "+page.Req.Client, page)
		return
	}
	switch {
	case errors.Is(err, ErrUserCodeInvalid), errors.Is(err, ErrUserCodeUsed):
		h.render(w, r, http.StatusConflict, "Code already used", devicePage{
			Mode: "enter", Username: user.Username,
			Error: "This code has expired or was already used. Start again on your device to get a new code.",
		})
		return
	case err != nil:
		h.unavailable(w, r, err)
		return
	}
	page.Mode = "done"
	title := "Device connected"
	if !page.Approved {
		title = "Request denied"
	}
	h.render(w, r, http.StatusOK, title, page)
}

func (h *deviceHandler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.p.cfg.Logger.ErrorContext(r.Context(), "device verification", "err", err)
	h.p.RenderError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
		"Connecting devices is temporarily unavailable. Please try again in a moment.")
}

// waitText says d for people: "10 minutes", "1 minute", "30 seconds".
func waitText(d time.Duration) string {
	n, unit := int(d/time.Minute), "minute"
	if d < time.Minute {
		n, unit = max(1, int(d/time.Second)), "second"
	}
	if n != 1 {
		unit += "s"
	}
	return strconv.Itoa(n) + " " + unit
}
