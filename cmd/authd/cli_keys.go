package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/authd/authd/keys"
)

// keyManager is the signing-key manager of the key commands.
func keyManager(e *cmdEnv) (*keys.Manager, error) {
	if len(e.cfg.Secret) < 32 {
		return nil, errors.New("AUTHD_SECRET (at least 32 bytes) is needed to manage signing keys")
	}
	return keys.New(e.db, e.cfg.Secret)
}

func keysList(ctx context.Context, e *cmdEnv, args []string) error {
	asJSON, err := listFlags("keys list", args)
	if err != nil {
		return err
	}
	m, err := keyManager(e)
	if err != nil {
		return err
	}
	ks, err := m.List(ctx)
	if err != nil {
		return err
	}
	return printList(e.stdout, asJSON, ks, "KID\tALG\tCREATED\tACTIVE FROM\tSTATE", func(k keys.KeyInfo) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", k.ID, k.Alg, k.CreatedAt.Format(time.RFC3339), k.ActiveAt.Format(time.RFC3339), keyState(k))
	}, keyView)
}

// keyState is the STATE column of keys list.
func keyState(k keys.KeyInfo) string {
	switch {
	case k.RetiredAt != nil:
		return "retired"
	case k.Current:
		return "signing"
	case k.ActiveAt.After(time.Now()):
		return "pending" // published, signs from ACTIVE FROM on (AUTHD_KEY_ROTATION lead)
	}
	return "published"
}

func keysRotate(ctx context.Context, e *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	alg := fs.String("alg", keys.RS256, "RS256 or ES256")
	m, err := keyManager(e)
	if err != nil {
		return err
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	k, err := m.Rotate(ctx, *alg, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "new %s key %s is active; older keys stay published in JWKS\n", k.Alg, k.ID)
	return nil
}
