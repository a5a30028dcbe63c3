package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Grants authorized in a browser login session, for the devices page's
// "this browser" mark and "sign out all other devices":
//
//	Pls:{session}:g  set  ids of grants whose authorization this login session approved

func (s *Store) loginGrantsKey(session string) string { return s.prefix + "ls:" + session + ":g" }

// AddLoginSessionGrant records that grant was authorized in the login
// session; the set lives ttl from its latest addition.
func (s *Store) AddLoginSessionGrant(ctx context.Context, session, grant string, ttl time.Duration) error {
	k := s.loginGrantsKey(session)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, k, grant)
		p.PExpire(ctx, k, ttl)
		return nil
	})
	return wrap("add login session grant", err)
}

// LoginSessionGrants returns the grants authorized in the login session
// (none when it has expired).
func (s *Store) LoginSessionGrants(ctx context.Context, session string) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.loginGrantsKey(session)).Result()
	return ids, wrap("login session grants", err)
}
