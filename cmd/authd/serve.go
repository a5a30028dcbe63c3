package main

import (
	"context"
	"fmt"
	"io"
	"net"
)

// serve runs the HTTP server until ctx is cancelled (SIGINT/SIGTERM).
func serve(ctx context.Context, cfg Config, logOut io.Writer) error {
	log := newLogger(logOut, cfg.LogLevel)
	app, err := NewApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("authd serving", "addr", l.Addr().String(), "issuer", cfg.Issuer)
	return app.Serve(ctx, l)
}
