package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
)

// serve runs the HTTP server until ctx is cancelled (SIGINT/SIGTERM).
func serve(ctx context.Context, cfg Config, logOut io.Writer) error {
	log := newLogger(logOut, cfg.LogLevel)
	gcPercent, memLimit := tuneGC()
	app, err := NewApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- app.Serve(ctx, l) }()
	listeners := 1
	if cfg.AdminAddr != "" {
		al, err := net.Listen("tcp", cfg.AdminAddr)
		if err != nil {
			cancel()
			<-errc
			return fmt.Errorf("listen on %s: %w", cfg.AdminAddr, err)
		}
		go func() { errc <- app.ServeAdmin(ctx, al) }()
		listeners++
		log.Info("authd admin listener", "addr", al.Addr().String())
	}
	log.Info("authd serving", "addr", l.Addr().String(), "issuer", cfg.Issuer, "gogc", gcPercent, "gomemlimit", memLimit)
	// The first listener to end (failure or shutdown) ends the other.
	var first error
	for range listeners {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
		cancel()
	}
	return first
}

// defaultGCPercent is serve's GOGC when the environment sets none. authd's
// live heap is small (caches, keys, requests in flight) while every request
// allocates: at Go's default of 100 the collector ran ~18% of introspection's
// CPU. At 400 it runs a quarter as often (measured -13% CPU per
// introspection).
const defaultGCPercent = 400

// defaultMemLimit is the soft memory limit that comes with it: without one,
// a heap of five times the live one let sign-ins (each password check holds
// 19 MiB for ~35 ms) reach 390 MiB resident on 2 cores. The live heap is a
// base plus at most GOMAXPROCS password checks (web's semaphore), so the
// limit leaves room for both and the collector only works harder near it:
// 160 MiB + 40 MiB per GOMAXPROCS (240 MiB on 2 cores, where sign-ins then
// peaked at 235-270 MiB resident with no loss of throughput: the limit is
// soft and covers the heap only).
func defaultMemLimit() int64 {
	return (160 + 40*int64(runtime.GOMAXPROCS(0))) << 20
}

// tuneGC applies defaultGCPercent and defaultMemLimit unless the operator
// set GOGC or GOMEMLIMIT (then the runtime's own handling of both stands);
// it returns the settings in effect (-1: no limit).
func tuneGC() (gcPercent int, memLimit int64) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		old := debug.SetGCPercent(100)
		debug.SetGCPercent(old)
		return old, debug.SetMemoryLimit(-1)
	}
	debug.SetGCPercent(defaultGCPercent)
	limit := defaultMemLimit()
	debug.SetMemoryLimit(limit)
	return defaultGCPercent, limit
}
