package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ParseURL turns a Redis URL into options for redis.NewUniversalClient. It
// accepts three topologies, each with a TLS variant ("rediss..."):
//
//	redis://[user:pass@]host[:port][/db]                       one server (default port 6379, db 0)
//	redis+cluster://[user:pass@]host1:port1,host2:port2,...    Redis Cluster seed nodes (db must be 0)
//	redis+sentinel://[user:pass@]host1:port1,.../MASTER[/db]   Sentinels (default port 26379) and the master's name
//
// user and pass authenticate to the Redis servers (for Sentinel: to the
// master and its replicas, and to the Sentinels unless the query sets
// sentinel_username and/or sentinel_password, percent-encoded; an empty
// sentinel_password means the Sentinels need none). Any other query
// parameter is refused, so a typo cannot silently fall back to a default.
// TLS verifies the server certificate against the system roots, with the
// host name of each address.
func ParseURL(raw string) (*redis.UniversalOptions, error) {
	u, err := splitURL(raw)
	if err != nil {
		return nil, err
	}
	o := &redis.UniversalOptions{}
	authority, err := parseUserInfo(o, u.authority)
	if err != nil {
		return nil, err
	}
	defPort := "6379"
	if u.sentinel {
		defPort = "26379"
		// Sentinels commonly share the servers' credentials; a deployment
		// where they differ needs its own configuration.
		o.SentinelUsername, o.SentinelPassword = o.Username, o.Password
		if v, ok := u.query["sentinel_username"]; ok {
			o.SentinelUsername = v[0]
		}
		if v, ok := u.query["sentinel_password"]; ok {
			o.SentinelPassword = v[0]
		}
	}
	if authority == "" {
		return nil, errors.New("redis url: no host")
	}
	for _, h := range strings.Split(authority, ",") {
		addr, err := hostPort(h, defPort)
		if err != nil {
			return nil, err
		}
		o.Addrs = append(o.Addrs, addr)
	}
	if err := applyPath(o, u); err != nil {
		return nil, err
	}
	if u.tls {
		// ServerName stays empty: crypto/tls takes it from each dialled
		// address, which is right for every node of a cluster.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

// urlParts is a Redis URL taken apart by splitURL.
type urlParts struct {
	tls, cluster, sentinel bool
	authority              string // [user:pass@]host[:port][,host[:port]...]
	path                   string // after the first "/" of the authority
	query                  url.Values
}

// splitURL checks the scheme and the query (only sentinel_username and
// sentinel_password, each once, and only with redis+sentinel) and splits
// the rest into authority and path.
func splitURL(raw string) (urlParts, error) {
	var u urlParts
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return u, errors.New("redis url: missing scheme (want redis://, redis+cluster:// or redis+sentinel://)")
	}
	switch strings.ToLower(scheme) {
	case "redis":
	case "rediss":
		u.tls = true
	case "redis+cluster":
		u.cluster = true
	case "rediss+cluster":
		u.cluster, u.tls = true, true
	case "redis+sentinel":
		u.sentinel = true
	case "rediss+sentinel":
		u.sentinel, u.tls = true, true
	default:
		return u, fmt.Errorf("redis url: unsupported scheme %q (want redis, rediss, redis+cluster, rediss+cluster, redis+sentinel or rediss+sentinel)", scheme)
	}
	if strings.Contains(rest, "#") {
		return u, errors.New("redis url: fragments are not supported")
	}
	rest, rawQuery, hasQuery := strings.Cut(rest, "?")
	if hasQuery && !u.sentinel {
		return u, errors.New("redis url: query parameters are not supported (only sentinel_username and sentinel_password, with redis+sentinel)")
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return u, errors.New("redis url: bad query") // may hold a password: not echoed
	}
	for k, v := range query {
		if k != "sentinel_username" && k != "sentinel_password" {
			return u, fmt.Errorf("redis url: unknown query parameter %q (only sentinel_username and sentinel_password)", k)
		}
		if len(v) != 1 {
			return u, fmt.Errorf("redis url: query parameter %q given %d times", k, len(v))
		}
	}
	u.query = query
	u.authority, u.path, _ = strings.Cut(rest, "/")
	return u, nil
}

// parseUserInfo sets o's Username and Password from the authority's
// percent-encoded user:pass@ part, and returns the authority without it.
func parseUserInfo(o *redis.UniversalOptions, authority string) (string, error) {
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return authority, nil
	}
	user, pass, hasPass := strings.Cut(authority[:at], ":")
	var err error
	if o.Username, err = url.PathUnescape(user); err != nil {
		return "", fmt.Errorf("redis url: bad user name escape: %w", err)
	}
	if hasPass {
		if o.Password, err = url.PathUnescape(pass); err != nil {
			return "", errors.New("redis url: bad password escape") // never echo the password
		}
	}
	return authority[at+1:], nil
}

// applyPath reads the path: the master's name for Sentinel, then the
// database number (Redis Cluster has only 0); it also sets cluster mode and
// refuses several hosts for a single server.
func applyPath(o *redis.UniversalOptions, u urlParts) error {
	segs := []string{}
	if u.path != "" {
		segs = strings.Split(strings.TrimSuffix(u.path, "/"), "/")
	}
	switch {
	case u.sentinel:
		if len(segs) == 0 || segs[0] == "" {
			return errors.New("redis url: redis+sentinel needs the master name as the path (redis+sentinel://host:26379/mymaster)")
		}
		name, err := url.PathUnescape(segs[0])
		if err != nil {
			return fmt.Errorf("redis url: bad master name: %w", err)
		}
		o.MasterName = name
		segs = segs[1:]
	case u.cluster:
		o.IsClusterMode = true
	default:
		if len(o.Addrs) > 1 {
			return errors.New("redis url: several hosts need redis+cluster:// or redis+sentinel://")
		}
	}
	if len(segs) > 1 {
		return fmt.Errorf("redis url: unexpected path %q", u.path)
	}
	if len(segs) == 1 {
		db, err := strconv.Atoi(segs[0])
		if err != nil || db < 0 {
			return fmt.Errorf("redis url: database %q is not a non-negative number", segs[0])
		}
		if u.cluster && db != 0 {
			return errors.New("redis url: Redis Cluster has only database 0")
		}
		o.DB = db
	}
	return nil
}

// hostPort validates one host[:port] (IPv6 in brackets) and adds defPort.
func hostPort(h, defPort string) (string, error) {
	if h == "" {
		return "", errors.New("redis url: empty host in list")
	}
	host, port := h, defPort
	if strings.HasPrefix(h, "[") {
		end := strings.Index(h, "]")
		if end < 0 {
			return "", fmt.Errorf("redis url: bad IPv6 address %q", h)
		}
		host = h[1:end]
		switch tail := h[end+1:]; {
		case tail == "":
		case strings.HasPrefix(tail, ":"):
			port = tail[1:]
		default:
			return "", fmt.Errorf("redis url: bad address %q", h)
		}
	} else if i := strings.LastIndex(h, ":"); i >= 0 {
		host, port = h[:i], h[i+1:]
		if strings.Contains(host, ":") {
			return "", fmt.Errorf("redis url: IPv6 address %q must be in brackets", h)
		}
	}
	if host == "" {
		return "", fmt.Errorf("redis url: empty host in %q", h)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("redis url: bad port in %q", h)
	}
	return net.JoinHostPort(host, port), nil
}

// Topology names what o connects to: "single", "cluster" or "sentinel".
func Topology(o *redis.UniversalOptions) string {
	switch {
	case o.MasterName != "":
		return "sentinel"
	case o.IsClusterMode || len(o.Addrs) > 1:
		return "cluster"
	default:
		return "single"
	}
}
