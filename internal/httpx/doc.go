// Package httpx holds the small HTTP pieces every area of authd shares: the
// caller's address, a status-recording response writer, the bearer header,
// JSON responses, and the one place that turns domain and storage errors
// into HTTP answers (errors.go).
package httpx
