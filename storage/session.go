package storage

import "time"

// BrowserSession is a browser sign-in session as its store keeps it
// (package sessions owns what it means).
type BrowserSession struct {
	ID       string // the OIDC sid
	Subject  string
	Username string
	AuthTime time.Time
	Created  time.Time
	LastSeen time.Time
	// End is the absolute end; Expires when it ends unless used again
	// (the idle timeout, never past End).
	End     time.Time
	Expires time.Time
	Device  string
	IP      string
	// CookieHash is the hash of the browser's cookie that maps to it.
	CookieHash string
	// Grants are the grants authorized through the session.
	Grants []SessionGrant
}

// SessionGrant is one grant authorized through a browser session.
type SessionGrant struct {
	Grant, Client string
	// Offline: the grant holds offline_access, so ending the session
	// leaves it alone (OpenID Connect Back-Channel Logout 1.0 §2.7).
	Offline bool
}

// Revocation reasons of browser sessions (and of the grants their end
// revokes), beside the grant reasons above.
const (
	// RevokedLogout: the user signed out of this browser (or an RP logged
	// them out).
	RevokedLogout = "logout"
)
