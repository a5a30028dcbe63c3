// Package clients owns the client lifecycle every way of managing clients
// shares — the command line (authd clients …), dynamic client registration
// (package registration) and the admin API: creating a client (generated id
// and secret, the secret hashed), updating it (never touching its grants),
// deleting it (ending every token it holds), rotating its secret, and the
// one registration policy all of them enforce (Check, over
// storage.Client.Validate, with the errors of RFC 7591 §3.2.2). It also
// maps RFC 7591 client metadata to storage.Client and back (Metadata).
package clients
