package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium (make test installs it).
const chromiumPath = "/usr/bin/chromium"

// headlessChrome starts a real headless Chromium for one test, with a fresh
// profile and the flags this sandbox needs (no background networking: the
// machine has no network), and returns a chromedp context bounded to 60 s.
// Without a browser it skips, unless CI is set, where it fails. The
// browser's output is logged when the test fails.
func headlessChrome(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no browser at %s (%v)", chromiumPath, err)
		}
		t.Fatalf("CI is set but there is no browser at %s: %v", chromiumPath, err)
	}
	profile := t.TempDir() // removed after the browser is gone (cleanups run last-in first-out)
	out := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(out),
	)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
		if t.Failed() {
			var lines []string
			for _, l := range strings.Split(out.String(), "\n") {
				if !strings.Contains(l, "dbus") && !strings.Contains(l, "unexpected operator") && l != "" {
					lines = append(lines, l)
				}
			}
			t.Logf("browser output (D-Bus noise left out):\n%s", strings.Join(lines, "\n"))
		}
	})
	return bctx
}

// syncBuffer is a bytes.Buffer safe for the browser's output goroutine,
// keeping the first 64 KiB.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 64<<10 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
