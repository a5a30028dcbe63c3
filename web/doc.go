// Package web owns the pages a person sees: sign-in, consent, errors (and
// later device verification and the devices page), their templates, the
// browser login session and CSRF protection. It never imports oauth: the
// authorization endpoint calls into it through Pages.
package web
