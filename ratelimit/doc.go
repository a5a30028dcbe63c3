// Package ratelimit throttles guessing: failed client authentications and
// failed sign-ins (Limiter, middleware on the routes it guards) and the
// device page's wrong user codes (Counter). Its counters live in Redis under
// the key prefix's "rl:" space.
package ratelimit
