package fositestore

// Forget drops id from the cache at once, as its TTL does on every replica:
// tests use it instead of waiting the TTL out. (Test builds only: nothing in
// the product forgets a client early.)
func (c *ClientCache) Forget(id string) { c.cache.Remove(id) }
