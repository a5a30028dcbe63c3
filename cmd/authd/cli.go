package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/postgres"
)

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

const usage = `usage: authd <command>

  serve                         serve HTTP
  migrate                       apply Postgres migrations
  demo                          create the demo user and client if absent, print how to try them
  clients create --id ID [--secret S | --public] [--redirect-uri URI]... --grant-types list
                 [--scopes "a b"] [--name NAME] [--introspect] [--access-token-format opaque|jwt]
                 [--auth-method private_key_jwt (--jwks-file F | --jwks-uri URL)]
                 [--id-token-alg RS256|ES256]
                 [--post-logout-redirect-uri URI]... [--allowed-cors-origin ORIGIN]...
                 [--audience URI]... [--resource URI]
                 [--backchannel-logout-uri URI] [--backchannel-logout-session-required]
                 [--frontchannel-logout-uri URI]
  clients update --id ID [--json] [the settings of create: --redirect-uri, --post-logout-redirect-uri,
                 --allowed-cors-origin, --grant-types, --scopes, --name, --introspect[=false],
                 --access-token-format, --id-token-alg, --audience, --resource,
                 --backchannel-logout-uri, --backchannel-logout-session-required[=false],
                 --frontchannel-logout-uri; a list flag replaces the list, "" clears it]
  clients rotate-secret --id ID [--overlap 24h]
  clients list [--json] | clients delete --id ID
  users create --username U --password P [--email E] [--email-verified] [--name "Full Name"]
               [--given-name G] [--family-name F]
  users update --username U [--password P] [--disabled[=false]] [the profile flags of create; flags
               not given stay; a new password or --disabled ends the user's grants and
               browser sessions]
  users delete --username U | --subject SUB   (ends the user's grants and browser sessions,
                                               forgets its consents)
  users list [--json]
  keys list [--json] | keys rotate [--alg RS256|ES256]
  grants list --subject SUB [--active]
  grants revoke --id ID | grants revoke --subject SUB   (--subject also ends the user's browser
                                                        sessions)
  janitor                       flush refresh metadata; expire ended grants; delete those ended
                                more than AUTHD_GRANT_RETENTION (720h) ago

Configuration comes from AUTHD_* environment variables (see README).`

// stores says which stores a command opens before it runs.
type stores int

const (
	noStores   stores = iota
	pgOnly            // Postgres
	pgAndRedis        // Postgres, then Redis
)

// command is one command line of authd: its words, the stores it needs and
// the function that runs it with the rest of the arguments.
type command struct {
	name   string
	stores stores
	run    func(ctx context.Context, e *cmdEnv, args []string) error
}

// cmdEnv is what a command runs with: the configuration, the stores it asked
// for (nil otherwise) and the output streams.
type cmdEnv struct {
	cfg    Config
	db     *postgres.DB
	rdb    redis.UniversalClient
	stdout io.Writer
	stderr io.Writer
}

// commands is authd's command table; usage lists the same commands.
var commands = []command{
	{"serve", noStores, func(ctx context.Context, e *cmdEnv, _ []string) error { return serve(ctx, e.cfg, e.stderr) }},
	{"migrate", pgOnly, migrateCmd},
	{"demo", pgOnly, demoCmd},
	{"clients create", pgOnly, clientsCreate},
	{"clients list", pgOnly, clientsList},
	{"clients delete", pgAndRedis, clientsDelete},
	{"clients update", pgOnly, clientsUpdate},
	{"clients rotate-secret", pgOnly, clientsRotateSecret},
	{"users create", pgOnly, usersCreate},
	{"users update", pgAndRedis, usersUpdate},
	{"users delete", pgAndRedis, usersDelete},
	{"users list", pgOnly, usersList},
	{"keys list", pgOnly, keysList},
	{"keys rotate", pgOnly, keysRotate},
	{"grants list", pgAndRedis, func(ctx context.Context, e *cmdEnv, args []string) error {
		return grantsCmd(ctx, e.cfg, e.db, e.rdb, "list", args, e.stdout) // grants_cli.go
	}},
	{"grants revoke", pgAndRedis, func(ctx context.Context, e *cmdEnv, args []string) error {
		return grantsCmd(ctx, e.cfg, e.db, e.rdb, "revoke", args, e.stdout)
	}},
	{"janitor", pgAndRedis, func(ctx context.Context, e *cmdEnv, args []string) error {
		return janitorCmd(ctx, e.cfg, e.db, e.rdb, args, e.stdout) // background.go
	}},
}

// lookup finds the command args start with (one or two words) and returns
// it with the arguments that follow.
func lookup(args []string) (*command, []string) {
	for i := range commands {
		c := &commands[i]
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c, args[len(words):]
		}
	}
	return nil, nil
}

// run runs one command line; tests call it directly. help needs nothing
// from the environment; every other command reads the whole configuration
// first (reporting every malformed variable at once), then opens only the
// stores it needs.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	cmd, rest := lookup(args)
	if cmd == nil {
		return usageError{usage}
	}
	cfg, err := envConfig()
	if err != nil {
		return err
	}
	e := &cmdEnv{cfg: cfg, stdout: stdout, stderr: stderr}
	if cmd.stores >= pgOnly {
		if e.db, err = openPostgres(ctx, cfg); err != nil {
			return err
		}
		defer e.db.Close()
	}
	if cmd.stores >= pgAndRedis {
		if e.rdb, err = openRedis(cfg); err != nil {
			return err
		}
		defer e.rdb.Close()
	}
	return cmd.run(ctx, e, rest)
}

func migrateCmd(ctx context.Context, e *cmdEnv, _ []string) error {
	if err := e.db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "migrations applied")
	return nil
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usageError{fs.Name() + ": " + err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fs.Name() + ": unexpected argument " + fs.Arg(0)}
	}
	return nil
}

// listFlags parses the flags of a list command: --json alone.
func listFlags(name string, args []string) (asJSON bool, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	j := fs.Bool("json", false, "print JSON")
	err = parseFlags(fs, args)
	return *j, err
}

// printList prints the records of a list command: a table (header, then
// line(item) per record) or, asJSON, a JSON array of view(item), never null.
// Both come from the same records.
func printList[T any](out io.Writer, asJSON bool, items []T, header string, line func(T) string, view func(T) any) error {
	if asJSON {
		vs := make([]any, len(items))
		for i, it := range items {
			vs[i] = view(it)
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(vs)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, line(it))
	}
	return tw.Flush()
}
