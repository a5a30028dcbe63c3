package main

import (
	"context"

	"github.com/authd/authd/clientdoc"
	"github.com/authd/authd/storage/fositestore"
)

// publicClients tells the rate limiter which clients are public, from the
// client cache (ratelimit.PublicClients). An unknown client, or one that
// cannot be read now, counts as confidential.
//
// With Client ID Metadata Documents on, an https id counts as public
// without a lookup: anyone can name any URL (so its failures must not block
// the id for everyone), and a lookup here would fetch the document once more.
type publicClients struct {
	c         *fositestore.ClientCache
	documents bool
}

func (p publicClients) IsPublic(ctx context.Context, id string) bool {
	if p.documents && clientdoc.IsURL(id) {
		return true
	}
	cl, err := p.c.Get(ctx, id)
	return err == nil && cl.IsPublic()
}
