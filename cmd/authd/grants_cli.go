package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
)

// grantsCmd runs `authd grants list|revoke`. Revocation goes through the
// grants home as the server's does: Redis tokens first, then the record.
func grantsCmd(ctx context.Context, cfg Config, db *postgres.DB, rdb redis.UniversalClient, sub string, args []string, stdout io.Writer) error {
	rs, clients, _, m, err := newGrantStores(cfg, db, rdb, nil, nil)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		fs := flag.NewFlagSet("grants list", flag.ContinueOnError)
		subject := fs.String("subject", "", "subject (user id)")
		active := fs.Bool("active", false, "only grants whose tokens still work")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *subject == "" {
			return usageError{"grants list: --subject is required"}
		}
		gs, err := m.List(ctx, *subject, *active)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCLIENT\tDEVICE\tLAST IP\tLAST USED\tSTATE")
		n := 0
		for _, g := range gs {
			state := "active"
			switch {
			case g.RevokedAt != nil:
				state = "revoked (" + g.RevokeReason + ")"
			case !g.Active:
				state = "expired"
			default:
				n++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, g.ClientID, g.Device, g.LastIP,
				g.LastUsedAt.UTC().Format(time.RFC3339), state)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d active of %d listed\n", n, len(gs))
		return nil
	case "revoke":
		fs := flag.NewFlagSet("grants revoke", flag.ContinueOnError)
		id := fs.String("id", "", "grant id")
		subject := fs.String("subject", "", "revoke every grant of this subject")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		switch {
		case (*id == "") == (*subject == ""):
			return usageError{"grants revoke: give exactly one of --id or --subject"}
		case *id != "":
			err := m.RevokeFor(ctx, "", *id, storage.RevokedByAdmin)
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("no grant %q", *id)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "grant %s revoked\n", *id)
			return nil
		default:
			ids, err := m.RevokeAll(ctx, *subject, storage.RevokedByAdmin)
			if err == nil { // and no browser stays signed in
				_, err = withLogoutTokens(newSessions(cfg, rs, m, nil), cfg, rs, clients).EndAll(ctx, *subject, storage.RevokedByAdmin)
			}
			fmt.Fprintf(stdout, "%d grant(s) of %s revoked\n", len(ids), *subject)
			if len(ids) > 0 {
				fmt.Fprintln(stdout, strings.Join(ids, "\n"))
			}
			return err
		}
	}
	return usageError{usage}
}

// deleteClient runs `authd clients delete`: the grants home revokes the
// client's grants (their tokens in Redis, then the rows) as it deletes it.
func deleteClient(ctx context.Context, cfg Config, db *postgres.DB, rdb redis.UniversalClient, id string) error {
	_, _, _, m, err := newGrantStores(cfg, db, rdb, nil, nil)
	if err != nil {
		return err
	}
	return m.DeleteClient(ctx, id)
}
