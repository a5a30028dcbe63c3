package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/ory/fosite"

	"github.com/authd/authd/oauth"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/token"
)

// MemoryResult is what the memory scenario measured.
type MemoryResult struct {
	Sessions int
	LoadTime time.Duration

	// used_memory deltas: with the grants' authorization codes still
	// present (they live AUTHD_AUTH_CODE_TTL after the exchange), and after
	// removing them (steady state: family + access token).
	UsedDeltaWithCode, UsedDeltaSteady int64
	// MEMORY USAGE samples (bytes), median over the sample.
	SampleN                       int
	FamilyMed, AccessMed, CodeMed int64
	// Real keys minted over HTTP by the running authd.
	RealN                                       int
	RealFamily, RealAccess, RealCode, RealOther int64
	RealOtherKeys                               string

	// Postgres grants table.
	GrantRows                       int64
	GrantTotal, GrantHeap, GrantIdx int64
}

func usedMemory(ctx context.Context, h *harness) (int64, error) {
	info, err := h.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no used_memory in INFO memory")
}

func median(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

// grantOf extracts the grant id from an authd token.
func grantOf(token string) string {
	if len(token) < 10 {
		return ""
	}
	g, _, _ := strings.Cut(token[9:], ".")
	return g
}

func runMemory(ctx context.Context, h *harness, o Options) (*MemoryResult, error) {
	m := &MemoryResult{Sessions: o.MemorySessions}

	// 1. Real grants minted over HTTP: what the running server stores.
	real, err := h.mintMany(ctx, 20, 4, time.Minute, "openid offline_access")
	if err != nil {
		return nil, err
	}
	rs0 := redisstore.New(h.rdb, h.prefix)
	var fam, acc, code []int64
	others := map[string]int{}
	var otherBytes []int64
	for _, t := range real {
		g := grantOf(t.Refresh)
		fam = append(fam, h.rdb.MemoryUsage(ctx, rs0.Key(g, "f")).Val())
		acc = append(acc, h.rdb.MemoryUsage(ctx, rs0.Key(g, "at")).Val())
		code = append(code, h.rdb.MemoryUsage(ctx, rs0.Key(g, "c")).Val())
		var sum int64
		for _, part := range []string{"pk", "oi"} {
			if n := h.rdb.MemoryUsage(ctx, rs0.Key(g, part)).Val(); n > 0 {
				others[part]++
				sum += n
			}
		}
		otherBytes = append(otherBytes, sum)
	}
	m.RealN, m.RealFamily, m.RealAccess, m.RealCode, m.RealOther = len(real), median(fam), median(acc), median(code), median(otherBytes)
	for k, n := range others {
		m.RealOtherKeys += fmt.Sprintf("%s:%d/%d ", k, n, len(real))
	}

	// 2. The adapter over the harness's schema and a dedicated key prefix.
	db, err := postgres.Open(ctx, o.DatabaseURL, postgres.WithSchema(h.schema))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	strat, err := token.New([]byte(h.secret))
	if err != nil {
		return nil, err
	}
	cache := fositestore.NewClientCache(db, 100, time.Minute)
	// Template: the request a real refresh token of this authd decodes to.
	st0 := fositestore.New(fositestore.Config{Redis: rs0, Records: db, Clients: cache, NewSession: oauth.NewSession, RefreshScopes: oauth.RefreshScopes})
	tr, err := st0.GetRefreshTokenSession(ctx, strat.RefreshTokenSignature(ctx, real[0].Refresh), oauth.NewSession())
	if err != nil {
		return nil, fmt.Errorf("decode a real refresh session: %w", err)
	}
	tmpl, ok := tr.(*fosite.Request)
	if !ok {
		return nil, fmt.Errorf("decoded refresh session is %T", tr)
	}
	prefix := "benchmem:" + randHex(6) + ":"
	defer func() {
		if !o.Keep {
			_, _ = deletePrefix(context.Background(), h.rdb, prefix)
		}
	}()
	rs := redisstore.New(h.rdb, prefix)
	st := fositestore.New(fositestore.Config{Redis: rs, Records: db, Clients: cache, NewSession: oauth.NewSession, RefreshScopes: oauth.RefreshScopes})

	before, err := usedMemory(ctx, h)
	if err != nil {
		return nil, err
	}
	meta := storage.RequestMeta{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"}
	lctx := storage.WithRequestMeta(ctx, meta)
	grants := make([]string, m.Sessions)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 48; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= m.Sessions || lctx.Err() != nil {
					return
				}
				if err := loadSession(lctx, st, strat, tmpl, grants, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	m.LoadTime = time.Since(start)
	o.Logf("memory: loaded %d sessions in %v", m.Sessions, m.LoadTime.Round(time.Millisecond))
	withCode, err := usedMemory(ctx, h)
	if err != nil {
		return nil, err
	}
	// Samples.
	n := min(1000, m.Sessions)
	var sf, sa, sc []int64
	for _, k := range rand.Perm(m.Sessions)[:n] {
		sf = append(sf, h.rdb.MemoryUsage(ctx, rs.Key(grants[k], "f")).Val())
		sa = append(sa, h.rdb.MemoryUsage(ctx, rs.Key(grants[k], "at")).Val())
		sc = append(sc, h.rdb.MemoryUsage(ctx, rs.Key(grants[k], "c")).Val())
	}
	m.SampleN, m.FamilyMed, m.AccessMed, m.CodeMed = n, median(sf), median(sa), median(sc)
	// Steady state: the codes expire AUTHD_AUTH_CODE_TTL after the exchange.
	for i := 0; i < len(grants); i += 1000 {
		j := min(i+1000, len(grants))
		keys := make([]string, 0, j-i)
		for _, g := range grants[i:j] {
			keys = append(keys, rs.Key(g, "c"))
		}
		if err := h.rdb.Unlink(ctx, keys...).Err(); err != nil {
			return nil, err
		}
	}
	time.Sleep(200 * time.Millisecond) // UNLINK frees in the background
	steady, err := usedMemory(ctx, h)
	if err != nil {
		return nil, err
	}
	m.UsedDeltaWithCode, m.UsedDeltaSteady = withCode-before, steady-before

	// 3. Postgres: the grants table.
	conn, err := pgx.Connect(ctx, o.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	tbl := pgx.Identifier{h.schema, "grants"}.Sanitize()
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+tbl); err != nil {
		return nil, err
	}
	err = conn.QueryRow(ctx, "SELECT count(*), pg_total_relation_size($1::regclass), pg_relation_size($1::regclass), pg_indexes_size($1::regclass) FROM "+tbl, h.schema+".grants").
		Scan(&m.GrantRows, &m.GrantTotal, &m.GrantHeap, &m.GrantIdx)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// loadSession does what a code exchange does with storage: the code, then
// the grant's birth (grants row + family + access token) and its first
// refresh token.
func loadSession(ctx context.Context, st *fositestore.Store, strat *token.Strategy, tmpl *fosite.Request, grants []string, i int) error {
	r := *tmpl
	r.ID = uuid.NewString()
	r.RequestedAt = time.Now().UTC()
	r.Form = url.Values{}
	for k, v := range tmpl.Form {
		r.Form[k] = v
	}
	r.Form.Set("grant_type", "authorization_code")
	grants[i] = r.ID
	_, codeSig, err := strat.GenerateAuthorizeCode(ctx, &r)
	if err != nil {
		return err
	}
	if err := st.CreateAuthorizeCodeSession(ctx, codeSig, &r); err != nil {
		return err
	}
	_, atSig, err := strat.GenerateAccessToken(ctx, &r)
	if err != nil {
		return err
	}
	_, rtSig, err := strat.GenerateRefreshToken(ctx, &r)
	if err != nil {
		return err
	}
	if err := st.CreateAccessTokenSession(ctx, atSig, &r); err != nil {
		return err
	}
	return st.CreateRefreshTokenSession(ctx, rtSig, atSig, &r)
}
