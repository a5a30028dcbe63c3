package main

// The scale scenario (`go run ./bench -scenarios scale`): a grants table of
// -scale-grants rows (1,000,000) in the bench's own schema, the families of
// its live grants in Redis under the bench's key prefix, and then:
//
//   - the admin API of the running authd: list one subject's active grants,
//     count them, revoke one grant (latency percentiles over random subjects
//     and grants, one request at a time);
//   - Postgres: bytes per grants row, EXPLAIN (ANALYZE, BUFFERS) of the list
//     query and of one page of the janitor's walk;
//   - the janitor: `authd janitor` wall time and rows deleted with 0, 1,000
//     and 10,000 rows past retention in the big table and 0 and 1,000 in a
//     table of a tenth of the size (its own schema and prefix), plus its two
//     phases timed alone in this process: the walk over the expired unrevoked
//     grant (Postgres page + Redis HMGET per grant) and the deletes.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/redisstore"
)

// ScaleResult is what the scale scenario measured.
type ScaleResult struct {
	Tables   []*scaleTable
	Requests []*latencyStat
	// Explain of the list query (ListGrants) and of one janitor page
	// (LiveGrants).
	ExplainList, ExplainWalk string
	ExplainSubject           string
	Janitor                  []*janitorRun
	Cleanup                  time.Duration
	CleanupKeys              int
}

// scaleTable is one generated grants table.
type scaleTable struct {
	Label                                       string
	Schema, Prefix                              string
	Rows, Subjects, Heavy                       int
	Live, Revoked, Expired                      int64
	InsertTime, VacuumTime                      time.Duration
	Families                                    int
	FamilyTime                                  time.Duration
	RedisDelta                                  int64 // used_memory growth for the families
	Total, Heap, Idx                            int64 // pg_total_relation_size, pg_relation_size, pg_indexes_size
	Indexes                                     string
	PerSubjectP50, PerSubjectP99, PerSubjectMax int
	liveIDs                                     []string
}

type latencyStat struct {
	Name          string
	N, Errors     int
	P50, P90, P99 time.Duration
	Max           time.Duration
	Items         float64 // mean grants in the response (list) or count
	Note          string
}

type janitorRun struct {
	Table         string
	PastRetention int
	// Process: `authd janitor` as cron would run it.
	Wall             time.Duration
	CPU              time.Duration // the janitor process's CPU time
	Machine          float64       // busy cores on the machine during Wall
	Expired, Deleted int
	// In-process phases (the same statements, timed alone).
	Walk         time.Duration // LiveGrants pages + FamiliesLive, all unrevoked grants
	WalkPages    int
	WalkGrants   int
	DeletePhase  time.Duration // DeleteEndedGrants batches of 500
	DeletePhaseN int
	PrepTime     time.Duration
}

// subjectID is the subject of the k-th generated user: the same value as
// md5('bench-subject-' || k)::uuid::text in Postgres.
func subjectID(kind string, k int) string {
	sum := md5.Sum([]byte("bench-" + kind + "-" + strconv.Itoa(k)))
	x := hex.EncodeToString(sum[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// genGrantsSQL fills a grants table with $2 rows at time $1: $3 ordinary
// subjects (uniform, so ~$2/$3 grants each) and the first $4*1000 rows for
// $4 heavy subjects of 1,000 grants each. 60% live (last used within the
// refresh lifetime, expires 30 days after), 25% revoked by someone within
// the last 29 days, 15% expired (and already marked so by the janitor)
// within the last 29 days; creation spread over 60 days. Nothing is past
// the 30-day retention, as after a janitor pass.
const genGrantsSQL = `
INSERT INTO %[1]s (id, subject, client_id, scopes, flow, user_agent, first_ip, last_ip,
                   created_at, last_used_at, expires_at, revoked_at, revoke_reason)
WITH r AS (
  SELECT i, random() AS kind, random() AS r1, random() AS r2, random() AS r3,
         floor(random()*10)::int AS c, floor(random()*8)::int AS ua,
         $1::timestamptz - random() * interval '60 days' AS created,
         (floor(random()*223)+1)::int || '.' || floor(random()*256)::int || '.' ||
           floor(random()*256)::int || '.' || (floor(random()*254)+1)::int AS ip,
         (floor(random()*223)+1)::int || '.' || floor(random()*256)::int || '.' ||
           floor(random()*256)::int || '.' || (floor(random()*254)+1)::int AS ip2
  FROM generate_series(1, $2::int) AS i
), s AS (
  SELECT r.*,
    CASE WHEN kind < 0.60 THEN 'live' WHEN kind < 0.85 THEN 'revoked' ELSE 'expired' END AS state,
    greatest(created, $1::timestamptz - interval '29 days') AS recent
  FROM r
), t AS (
  SELECT s.*,
    CASE state
      WHEN 'live'    THEN recent + r1 * ($1::timestamptz - recent)
      WHEN 'revoked' THEN created + r2 * ((recent + r1 * ($1::timestamptz - recent)) - created)
      ELSE $1::timestamptz - r1 * interval '29 days' - interval '30 days'
    END AS lu,
    CASE state
      WHEN 'revoked' THEN recent + r1 * ($1::timestamptz - recent)
      WHEN 'expired' THEN $1::timestamptz - r1 * interval '29 days'
    END AS rv
  FROM s
)
SELECT gen_random_uuid()::text,
  CASE WHEN i <= $4::int * 1000 THEN md5('bench-heavy-' || (i %% greatest($4::int, 1)))::uuid::text
       ELSE md5('bench-subject-' || floor(r3 * $3::int)::int)::uuid::text END,
  (ARRAY['web-app','web-app','web-app','ios-app','ios-app','android-app','android-app','partner-portal','cli','tv-app'])[c+1],
  CASE WHEN c < 2 THEN ARRAY['openid','profile','offline_access']
       WHEN c = 5 THEN ARRAY['openid','offline_access','grants']
       WHEN c = 7 THEN ARRAY['openid','profile','email','offline_access']
       WHEN c = 8 THEN ARRAY['offline_access','api:read']
       ELSE ARRAY['openid','offline_access'] END,
  CASE WHEN c >= 8 THEN 'device_code' ELSE 'authorization_code' END,
  (ARRAY['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
         'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
         'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
         'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
         'okhttp/4.12.0',
         'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
         'MyApp/3.4.1 (iPhone; iOS 17.5; Scale/3.00)',
         'curl/8.5.0'])[ua+1],
  ip, CASE WHEN r2 < 0.7 THEN ip ELSE ip2 END,
  CASE WHEN state = 'expired' THEN lu - r2 * (lu - ($1::timestamptz - interval '60 days')) ELSE created END,
  lu, lu + interval '30 days', rv,
  CASE state
    WHEN 'revoked' THEN (ARRAY['user','user','user','admin','logout_all','logout_all','reuse_detected','client'])[floor(r2*8)::int+1]
    WHEN 'expired' THEN 'expired'
  END
FROM t`

func (h *harness) scaleEnv(schema, prefix string) []string {
	env := make([]string, 0, len(h.env))
	for _, kv := range h.env {
		if strings.HasPrefix(kv, "AUTHD_DATABASE_SCHEMA=") || strings.HasPrefix(kv, "AUTHD_REDIS_PREFIX=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "AUTHD_DATABASE_SCHEMA="+schema, "AUTHD_REDIS_PREFIX="+prefix)
}

func (h *harness) cliEnv(ctx context.Context, env []string, args ...string) (string, error) {
	out, _, err := h.cliEnvCPU(ctx, env, args...)
	return out, err
}

// cliEnvCPU also returns the process's CPU time (user + system).
func (h *harness) cliEnvCPU(ctx context.Context, env []string, args ...string) (string, time.Duration, error) {
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", 0, fmt.Errorf("authd %s: %w: %s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

func runScale(ctx context.Context, h *harness, o Options) (res *ScaleResult, err error) {
	res = &ScaleResult{}
	n := o.ScaleGrants
	if n <= 0 {
		n = 1_000_000
	}
	reqs := o.ScaleRequests
	if reqs <= 0 {
		reqs = 500
	}
	conn, err := pgx.Connect(ctx, o.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	_, _ = conn.Exec(ctx, "SET synchronous_commit = off")
	_, _ = conn.Exec(ctx, "SET maintenance_work_mem = '256MB'")

	// The small table: its own schema and key prefix, removed at the end.
	small := &scaleTable{Label: fmt.Sprintf("%d rows", n/10), Schema: h.schema + "_small",
		Prefix: strings.TrimSuffix(h.prefix, ":") + "s:", Rows: n / 10, Subjects: max(1, n/100)}
	big := &scaleTable{Label: fmt.Sprintf("%d rows", n), Schema: h.schema, Prefix: h.prefix,
		Rows: n, Subjects: max(1, n/10), Heavy: min(10, n/10000)}
	defer func() {
		if o.Keep {
			o.Logf("scale: kept schema %s, prefixes %s and %s", small.Schema, big.Prefix, small.Prefix)
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		t0 := time.Now()
		for _, t := range []*scaleTable{big, small} {
			k, derr := deletePrefix(cctx, h.rdb, t.Prefix)
			if derr != nil {
				o.Logf("scale: cleanup of %s: %v", t.Prefix, derr)
			}
			res.CleanupKeys += k
		}
		if _, derr := conn.Exec(cctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{small.Schema}.Sanitize()+" CASCADE"); derr != nil {
			o.Logf("scale: drop %s: %v", small.Schema, derr)
		}
		res.Cleanup = time.Since(t0)
		o.Logf("scale: cleanup removed %d Redis keys in %v", res.CleanupKeys, res.Cleanup.Round(time.Millisecond))
	}()

	if err := h.buildTable(ctx, conn, big, o); err != nil {
		return res, err
	}
	res.Tables = append(res.Tables, big)

	// --- EXPLAIN of the list query and of one janitor page.
	sub := subjectID("subject", rand.IntN(big.Subjects))
	res.ExplainSubject = sub
	tbl := pgx.Identifier{big.Schema, "grants"}.Sanitize()
	if res.ExplainList, err = explain(ctx, conn, `SELECT id, subject, client_id, scopes, flow, user_agent, first_ip, last_ip,
	created_at, last_used_at, expires_at, revoked_at, COALESCE(revoke_reason, '') FROM `+tbl+`
	WHERE subject = $1 ORDER BY last_used_at DESC, id`, sub); err != nil {
		return res, err
	}
	// The first page of the janitor's walk: the unrevoked grants past
	// their recorded end (the query of postgres.LiveGrants).
	if res.ExplainWalk, err = explain(ctx, conn, `SELECT id, expires_at FROM `+tbl+`
		WHERE revoked_at IS NULL AND expires_at <= $1 AND created_at < $2
		  AND expires_at >= $3 AND (expires_at, id) > ($3, $4)
		ORDER BY expires_at, id LIMIT 500`, time.Now(), time.Now().Add(-5*time.Minute), time.Time{}, ""); err != nil {
		return res, err
	}

	// --- The admin API of the running authd.
	if err := h.scaleRequests(ctx, res, big, reqs); err != nil {
		return res, err
	}

	// --- The janitor.
	for _, past := range repeat([]int{0, 1000, 10000}, o.ScaleJanitorRuns) {
		if int64(2*past) > big.Revoked/2 {
			o.Logf("scale: %d rows past retention skipped: the table has %d revoked rows", past, big.Revoked)
			continue
		}
		r, err := h.janitorCase(ctx, conn, big, past, o)
		if err != nil {
			return res, err
		}
		res.Janitor = append(res.Janitor, r)
	}
	// The small table.
	if _, err := h.cliEnv(ctx, h.scaleEnv(small.Schema, small.Prefix), "migrate"); err != nil {
		return res, err
	}
	if err := h.buildTable(ctx, conn, small, o); err != nil {
		return res, err
	}
	res.Tables = append(res.Tables, small)
	for _, past := range repeat([]int{0, 1000}, o.ScaleJanitorRuns) {
		if int64(2*past) > small.Revoked/2 {
			o.Logf("scale: %d rows past retention skipped: the table has %d revoked rows", past, small.Revoked)
			continue
		}
		r, err := h.janitorCase(ctx, conn, small, past, o)
		if err != nil {
			return res, err
		}
		res.Janitor = append(res.Janitor, r)
	}
	return res, nil
}

// repeat returns each element of v n times in a row (at least once).
func repeat(v []int, n int) []int {
	var out []int
	for _, x := range v {
		for i := 0; i < max(1, n); i++ {
			out = append(out, x)
		}
	}
	return out
}

func explain(ctx context.Context, conn *pgx.Conn, q string, args ...any) (string, error) {
	rows, err := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q, args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	return strings.Join(lines, "\n"), nil
}

// buildTable fills t's grants table, writes the families of its live grants
// to Redis and records the sizes.
func (h *harness) buildTable(ctx context.Context, conn *pgx.Conn, t *scaleTable, o Options) error {
	tbl := pgx.Identifier{t.Schema, "grants"}.Sanitize()
	now := time.Now()
	o.Logf("scale: inserting %d grants into %s", t.Rows, t.Schema)
	t0 := time.Now()
	if _, err := conn.Exec(ctx, fmt.Sprintf(genGrantsSQL, tbl), now, t.Rows, t.Subjects, t.Heavy); err != nil {
		return fmt.Errorf("generate grants: %w", err)
	}
	t.InsertTime = time.Since(t0)
	t0 = time.Now()
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+tbl); err != nil {
		return err
	}
	t.VacuumTime = time.Since(t0)
	o.Logf("scale: inserted in %v, vacuum analyze %v", t.InsertTime.Round(time.Millisecond), t.VacuumTime.Round(time.Millisecond))
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE revoked_at IS NULL),
			count(*) FILTER (WHERE revoke_reason <> 'expired'), count(*) FILTER (WHERE revoke_reason = 'expired'),
			pg_total_relation_size($1::regclass), pg_relation_size($1::regclass), pg_indexes_size($1::regclass)
		FROM `+tbl, t.Schema+".grants").Scan(&t.Live, &t.Revoked, &t.Expired, &t.Total, &t.Heap, &t.Idx); err != nil {
		return err
	}
	rows, _ := conn.Query(ctx, `SELECT c.relname || ' ' || pg_size_pretty(pg_relation_size(c.oid))
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY c.relname`, t.Schema+".grants")
	idx, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	t.Indexes = strings.Join(idx, ", ")
	if err := conn.QueryRow(ctx, `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n)::int,
			percentile_disc(0.99) WITHIN GROUP (ORDER BY n)::int, max(n)::int
		FROM (SELECT count(*) AS n FROM `+tbl+` GROUP BY subject) s`).Scan(&t.PerSubjectP50, &t.PerSubjectP99, &t.PerSubjectMax); err != nil {
		return err
	}

	// Families of the live grants: g=0, m=<mac>, u=1, TTL to expires_at.
	type fam struct {
		id  string
		ttl time.Duration
	}
	rows, _ = conn.Query(ctx, `SELECT id, expires_at FROM `+tbl+` WHERE revoked_at IS NULL`)
	var fams []fam
	var id string
	var exp time.Time
	if _, err := pgx.ForEachRow(rows, []any{&id, &exp}, func() error {
		fams = append(fams, fam{id, time.Until(exp)})
		return nil
	}); err != nil {
		return err
	}
	before, err := usedMemory(ctx, h)
	if err != nil {
		return err
	}
	rs := redisstore.New(h.rdb, t.Prefix)
	t0 = time.Now()
	const batch = 5000
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	chunks := make(chan []fam)
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				_, err := h.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for _, f := range c {
						k := rs.Key(f.id, "f")
						p.HSet(ctx, k, "g", "0", "m", randB64(32), "u", "1")
						p.PExpire(ctx, k, max(f.ttl, time.Minute))
					}
					return nil
				})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < len(fams); i += batch {
		chunks <- fams[i:min(i+batch, len(fams))]
	}
	close(chunks)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("write families: %w", err)
	default:
	}
	t.FamilyTime = time.Since(t0)
	t.Families = len(fams)
	time.Sleep(100 * time.Millisecond)
	after, err := usedMemory(ctx, h)
	if err != nil {
		return err
	}
	t.RedisDelta = after - before
	t.liveIDs = make([]string, len(fams))
	for i, f := range fams {
		t.liveIDs[i] = f.id
	}
	o.Logf("scale: %d families written in %v (%d MiB of Redis)", len(fams), t.FamilyTime.Round(time.Millisecond), t.RedisDelta>>20)
	return nil
}

// admin sends one admin API request and returns the status, the body and
// the latency.
func (h *harness) admin(method, path string) (int, []byte, time.Duration, error) {
	req, err := http.NewRequest(method, h.base+path, nil)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+h.adminToken)
	t0 := time.Now()
	resp, err := h.hc.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b, time.Since(t0), err
}

func newStat(name string, lats []time.Duration, errs int, items float64, note string) *latencyStat {
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	s := &latencyStat{Name: name, N: len(lats), Errors: errs, Items: items, Note: note,
		P50: pct(lats, 0.5), P90: pct(lats, 0.9), P99: pct(lats, 0.99)}
	if len(lats) > 0 {
		s.Max = lats[len(lats)-1]
	}
	return s
}

func (h *harness) scaleRequests(ctx context.Context, res *ScaleResult, t *scaleTable, n int) error {
	type listResp struct {
		Grants []json.RawMessage `json:"grants"`
	}
	type countResp struct {
		Count int `json:"count"`
	}
	// Warm up connections and caches on other subjects.
	for i := 0; i < 20; i++ {
		if _, _, _, err := h.admin(http.MethodGet, "/admin/subjects/"+subjectID("subject", rand.IntN(t.Subjects))+"/grants?active=true"); err != nil {
			return err
		}
	}
	listPath := func(sub string) string { return "/admin/subjects/" + sub + "/grants?active=true" }
	measure := func(name, note string, paths []string, want int, items func([]byte) int) error {
		var lats []time.Duration
		errs, sum := 0, 0
		for _, p := range paths {
			if err := ctx.Err(); err != nil {
				return err
			}
			st, b, d, err := h.admin(map[bool]string{true: http.MethodDelete, false: http.MethodGet}[strings.HasPrefix(p, "/admin/grants/")], p)
			if err != nil || st != want {
				errs++
				if errs <= 3 {
					h.o.Logf("scale: %s %s: %d %v %.200s", name, p, st, err, b)
				}
				continue
			}
			lats = append(lats, d)
			if items != nil {
				sum += items(b)
			}
		}
		res.Requests = append(res.Requests, newStat(name, lats, errs, float64(sum)/float64(max(1, len(lats))), note))
		h.o.Logf("scale: %-28s p50 %s p99 %s errors %d", name, fmtDur(pct(lats, 0.5)), fmtDur(pct(lats, 0.99)), errs)
		return nil
	}
	listItems := func(b []byte) int {
		var r listResp
		_ = json.Unmarshal(b, &r)
		return len(r.Grants)
	}
	countItems := func(b []byte) int {
		var r countResp
		_ = json.Unmarshal(b, &r)
		return r.Count
	}
	subs := make([]string, n)
	for i := range subs {
		subs[i] = subjectID("subject", rand.IntN(t.Subjects))
	}
	paths := make([]string, n)
	for i, s := range subs {
		paths[i] = listPath(s)
	}
	if err := measure("GET …/grants?active=true", "random subjects", paths, http.StatusOK, listItems); err != nil {
		return err
	}
	for i, s := range subs {
		paths[i] = "/admin/subjects/" + s + "/grants/count?active=true"
	}
	if err := measure("GET …/grants/count?active=true", "random subjects", paths, http.StatusOK, countItems); err != nil {
		return err
	}
	if t.Heavy > 0 {
		var hp []string
		for r := 0; r < 5; r++ {
			for k := 0; k < t.Heavy; k++ {
				hp = append(hp, listPath(subjectID("heavy", k)))
			}
		}
		if err := measure("GET …/grants?active=true", fmt.Sprintf("%d subjects with 1,000 grants each", t.Heavy), hp, http.StatusOK, listItems); err != nil {
			return err
		}
	}
	// Revoke random live grants (not the heavy subjects': their lists were
	// just measured and stay as they were for a rerun with -keep).
	perm := rand.Perm(len(t.liveIDs))
	var rp []string
	for _, i := range perm {
		if len(rp) == n {
			break
		}
		rp = append(rp, "/admin/grants/"+t.liveIDs[i])
	}
	return measure("DELETE /admin/grants/{id}", "random live grants", rp, http.StatusNoContent, nil)
}

var janitorOut = regexp.MustCompile(`grants marked expired: (\d+); deleted: (\d+)`)

// janitorCase moves `past` revoked rows of t past the retention period and
// measures a janitor pass, then does it again timing its phases in this
// process.
func (h *harness) janitorCase(ctx context.Context, conn *pgx.Conn, t *scaleTable, past int, o Options) (*janitorRun, error) {
	r := &janitorRun{Table: t.Label, PastRetention: past}
	tbl := pgx.Identifier{t.Schema, "grants"}.Sanitize()
	prep := func() error {
		if past == 0 {
			return nil
		}
		t0 := time.Now()
		tag, err := conn.Exec(ctx, `UPDATE `+tbl+` g SET revoked_at = v.rv,
				last_used_at = least(g.last_used_at, v.rv), created_at = least(g.created_at, v.rv)
			FROM (SELECT id, now() - interval '31 days' - random() * interval '29 days' AS rv FROM `+tbl+`
				WHERE revoked_at IS NOT NULL AND revoked_at > now() - interval '29 days'
				ORDER BY random() LIMIT $1) v
			WHERE g.id = v.id`, past)
		if err != nil {
			return fmt.Errorf("prepare rows past retention: %w", err)
		}
		if int(tag.RowsAffected()) != past {
			return fmt.Errorf("prepared %d rows past retention, want %d", tag.RowsAffected(), past)
		}
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+tbl); err != nil {
			return err
		}
		r.PrepTime += time.Since(t0)
		return nil
	}
	// 1. `authd janitor`, the whole pass as a process.
	if err := prep(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	busy0 := machineBusy()
	out, cpu, err := h.cliEnvCPU(ctx, h.scaleEnv(t.Schema, t.Prefix), "janitor")
	r.Wall, r.CPU = time.Since(t0), cpu
	r.Machine = (machineBusy() - busy0) / r.Wall.Seconds()
	if err != nil {
		return nil, err
	}
	m := janitorOut.FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("authd janitor printed %q", out)
	}
	r.Expired, _ = strconv.Atoi(m[1])
	r.Deleted, _ = strconv.Atoi(m[2])

	// 2. Its phases in this process, with the same statements and batch.
	if err := prep(); err != nil {
		return nil, err
	}
	db, err := postgres.Open(ctx, o.DatabaseURL, postgres.WithSchema(t.Schema))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rs := redisstore.New(h.rdb, t.Prefix)
	now := time.Now()
	t0 = time.Now()
	var cur postgres.LiveGrantCursor
	for {
		ids, next, err := db.LiveGrants(ctx, now, now.Add(-5*time.Minute), cur, 500)
		if err != nil {
			return nil, err
		}
		if _, err := rs.FamiliesLive(ctx, ids); err != nil {
			return nil, err
		}
		r.WalkPages++
		r.WalkGrants += len(ids)
		if next == (postgres.LiveGrantCursor{}) {
			break
		}
		cur = next
	}
	r.Walk = time.Since(t0)
	t0 = time.Now()
	for {
		k, err := db.DeleteEndedGrants(ctx, now.Add(-30*24*time.Hour), 500)
		if err != nil {
			return nil, err
		}
		r.DeletePhaseN += k
		if k < 500 {
			break
		}
	}
	r.DeletePhase = time.Since(t0)
	o.Logf("scale: janitor on %s with %d past retention: %v (deleted %d, expired %d); walk %v over %d grants, deletes %v (%d)",
		t.Label, past, r.Wall.Round(time.Millisecond), r.Deleted, r.Expired, r.Walk.Round(time.Millisecond), r.WalkGrants,
		r.DeletePhase.Round(time.Millisecond), r.DeletePhaseN)
	return r, nil
}

func printScale(w io.Writer, s *ScaleResult) {
	fmt.Fprintf(w, "\n### scale: grants tables\n\n")
	fmt.Fprintln(w, "| table | live / revoked / expired | subjects: grants p50 / p99 / max | insert | VACUUM ANALYZE | bytes/row total (heap + indexes) | Redis families | Redis bytes/family | families written in |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---|---:|---:|---:|")
	for _, t := range s.Tables {
		rows := max(1, t.Live+t.Revoked+t.Expired)
		fmt.Fprintf(w, "| %s | %d / %d / %d | %d / %d / %d | %v | %v | %d (%d + %d) | %d | %d | %v |\n",
			t.Label, t.Live, t.Revoked, t.Expired, t.PerSubjectP50, t.PerSubjectP99, t.PerSubjectMax,
			t.InsertTime.Round(time.Millisecond), t.VacuumTime.Round(time.Millisecond),
			t.Total/rows, t.Heap/rows, t.Idx/rows, t.Families, t.RedisDelta/int64(max(1, t.Families)), t.FamilyTime.Round(time.Millisecond))
	}
	for _, t := range s.Tables {
		fmt.Fprintf(w, "\n%s indexes: %s\n", t.Label, t.Indexes)
	}
	if len(s.Requests) > 0 {
		fmt.Fprintf(w, "\n### scale: admin API of authd on the %s table (sequential requests)\n\n", s.Tables[0].Label)
		fmt.Fprintln(w, "| request | n | p50 | p90 | p99 | max | errors | mean grants listed / counted | notes |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|---:|---|")
		for _, r := range s.Requests {
			items := "–"
			if r.Items > 0 {
				items = fmt.Sprintf("%.1f", r.Items)
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %d | %s | %s |\n", r.Name, r.N, fmtDur(r.P50), fmtDur(r.P90), fmtDur(r.P99), fmtDur(r.Max), r.Errors, items, r.Note)
		}
	}
	if len(s.Janitor) > 0 {
		fmt.Fprintf(w, "\n### scale: janitor (retention 30 days, batches of 500)\n\n")
		fmt.Fprintln(w, "| table | rows past retention | `authd janitor` wall | its CPU | machine busy (cores) | deleted | marked expired | walk alone (unrevoked grants, pages) | deletes alone (rows) |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|---|")
		for _, j := range s.Janitor {
			fmt.Fprintf(w, "| %s | %d | %v | %v | %.2f | %d | %d | %v (%d, %d) | %v (%d) |\n", j.Table, j.PastRetention,
				j.Wall.Round(time.Millisecond), j.CPU.Round(time.Millisecond), j.Machine, j.Deleted, j.Expired,
				j.Walk.Round(time.Millisecond), j.WalkGrants, j.WalkPages, j.DeletePhase.Round(time.Millisecond), j.DeletePhaseN)
		}
		fmt.Fprintln(w, "\n`authd janitor` wall includes process start, the usage flush, the walk over the unrevoked grants past their recorded end")
		fmt.Fprintln(w, "(LiveGrants page + one pipelined HMGET per grant) and the deletes. The two right-hand columns time")
		fmt.Fprintln(w, "those phases alone in the bench process with the same statements, on a second batch of rows.")
	}
	if s.ExplainList != "" {
		fmt.Fprintf(w, "\n### scale: EXPLAIN (ANALYZE, BUFFERS) of ListGrants for subject %s\n\n```\n%s\n```\n", s.ExplainSubject, s.ExplainList)
	}
	if s.ExplainWalk != "" {
		fmt.Fprintf(w, "\n### scale: EXPLAIN (ANALYZE, BUFFERS) of the janitor's first page (LiveGrants: unrevoked grants past their end)\n\n```\n%s\n```\n", s.ExplainWalk)
	}
	if s.CleanupKeys > 0 {
		fmt.Fprintf(w, "\nCleanup: %d Redis keys unlinked (SCAN + UNLINK) in %v.\n", s.CleanupKeys, s.Cleanup.Round(time.Millisecond))
	}
}
