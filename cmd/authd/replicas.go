package main

import "time"

// clientCacheTTL is Config.ClientCacheTTL, 10s when unset.
func (c Config) clientCacheTTL() time.Duration {
	if c.ClientCacheTTL > 0 {
		return c.ClientCacheTTL
	}
	return 10 * time.Second
}
