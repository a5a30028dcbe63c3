package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/authd/authd/ratelimit"
)

// rateLimitFromEnv reads AUTHD_RATE_LIMIT_* (see README):
//
//	AUTHD_RATE_LIMIT_FAILURES     failures per client id / username per window (10; 0 disables)
//	AUTHD_RATE_LIMIT_IP_FAILURES  failures per IP address per window (50)
//	AUTHD_RATE_LIMIT_WINDOW       counting window and first block (1m)
//	AUTHD_RATE_LIMIT_MAX_WINDOW   longest block; blocks double up to it (1h)
func rateLimitFromEnv(errs *[]error) ratelimit.Config {
	var c ratelimit.Config
	num := func(name string) int {
		v := os.Getenv(name)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			*errs = append(*errs, fmt.Errorf("%s: %q is not a non-negative integer", name, v))
			return 0
		}
		return n
	}
	dur := func(name string) time.Duration {
		v := os.Getenv(name)
		if v == "" {
			return 0
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			*errs = append(*errs, fmt.Errorf("%s: %q is not a positive duration (e.g. 1m)", name, v))
			return 0
		}
		return d
	}
	if v := os.Getenv("AUTHD_RATE_LIMIT_FAILURES"); v == "0" {
		c.Failures = -1 // disabled
	} else {
		c.Failures = num("AUTHD_RATE_LIMIT_FAILURES")
	}
	c.IPFailures = num("AUTHD_RATE_LIMIT_IP_FAILURES")
	c.Window = dur("AUTHD_RATE_LIMIT_WINDOW")
	c.MaxWindow = dur("AUTHD_RATE_LIMIT_MAX_WINDOW")
	return c
}
