package main

import (
	"context"

	"github.com/authd/authd/storage/fositestore"
)

// publicClients tells the rate limiter which clients are public, from the
// client cache (ratelimit.PublicClients). An unknown client, or one that
// cannot be read now, counts as confidential.
type publicClients struct{ c *fositestore.ClientCache }

func (p publicClients) IsPublic(ctx context.Context, id string) bool {
	cl, err := p.c.Get(ctx, id)
	return err == nil && cl.IsPublic()
}
