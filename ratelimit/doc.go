// Package ratelimit throttles guessing and bounds request rates: failed
// client authentications and failed sign-ins (Limiter, middleware on the
// routes it guards: blocks per (account, source) and per source, an
// account-wide slowdown), device authorization requests per client and
// source (Limiter.DeviceAuthorization), and the device page's wrong user
// codes (Counter). Its counters live in Redis under the key prefix's "rl:"
// space; Source is the part of an address the limits count.
package ratelimit
