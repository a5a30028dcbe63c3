// Package web owns the pages a person sees and their templates: sign-in,
// consent, errors, the RFC 8628 verification page where a person enters a
// device's user code (deviceflow.go), "your devices", the browsers and
// grants signed in to the account (devices.go), with the apps they allowed
// (apps.go), the form_post response page (formpost.go) and the logout
// confirmation and "Signed out" pages that package logout shows
// (logout.go); plus sign-in and sign-out over package sessions, CSRF
// protection (gorilla/csrf) and the security headers. It never imports
// oauth: the protocol calls into Pages, and web declares the small
// interfaces it needs (DeviceVerifier, Devices, SignInLimiter, ...).
package web
