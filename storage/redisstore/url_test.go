package redisstore

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	type want struct {
		topo       string
		addrs      []string
		user, pass string
		master     string
		db         int
		tls        bool
	}
	cases := []struct {
		url string
		want
	}{
		{"redis://127.0.0.1:6390/1", want{topo: "single", addrs: []string{"127.0.0.1:6390"}, db: 1}},
		{"redis://localhost", want{topo: "single", addrs: []string{"localhost:6379"}}},
		{"redis://localhost/", want{topo: "single", addrs: []string{"localhost:6379"}}},
		{"redis://:s3cret@h:1/0", want{topo: "single", addrs: []string{"h:1"}, pass: "s3cret"}},
		{"redis://bob:p%40ss%3Aw@h:1/2", want{topo: "single", addrs: []string{"h:1"}, user: "bob", pass: "p@ss:w", db: 2}},
		{"redis://bob@h", want{topo: "single", addrs: []string{"h:6379"}, user: "bob"}},
		{"redis://[::1]:7000/3", want{topo: "single", addrs: []string{"[::1]:7000"}, db: 3}},
		{"redis://[::1]", want{topo: "single", addrs: []string{"[::1]:6379"}}},
		{"rediss://cache.example.com:6380", want{topo: "single", addrs: []string{"cache.example.com:6380"}, tls: true}},
		{"REDIS://h:1", want{topo: "single", addrs: []string{"h:1"}}},
		{"redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
			want{topo: "cluster", addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}}},
		{"redis+cluster://one:7000", want{topo: "cluster", addrs: []string{"one:7000"}}},
		{"redis+cluster://u:p@a:1,b:2/0", want{topo: "cluster", addrs: []string{"a:1", "b:2"}, user: "u", pass: "p"}},
		{"rediss+cluster://a:1,[::1]:2", want{topo: "cluster", addrs: []string{"a:1", "[::1]:2"}, tls: true}},
		{"redis+sentinel://s1:26379,s2/mymaster", want{topo: "sentinel", addrs: []string{"s1:26379", "s2:26379"}, master: "mymaster"}},
		{"redis+sentinel://:pw@s1/mymaster/4", want{topo: "sentinel", addrs: []string{"s1:26379"}, master: "mymaster", pass: "pw", db: 4}},
		{"rediss+sentinel://s1:1/m/", want{topo: "sentinel", addrs: []string{"s1:1"}, master: "m", tls: true}},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			o, err := ParseURL(c.url)
			if err != nil {
				t.Fatal(err)
			}
			got := want{topo: Topology(o), addrs: o.Addrs, user: o.Username, pass: o.Password, master: o.MasterName, db: o.DB, tls: o.TLSConfig != nil}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
			if c.topo == "sentinel" && (o.SentinelPassword != o.Password || o.SentinelUsername != o.Username) {
				t.Errorf("sentinel credentials %q/%q, want the URL's", o.SentinelUsername, o.SentinelPassword)
			}
			if o.TLSConfig != nil && o.TLSConfig.InsecureSkipVerify {
				t.Error("TLS must verify certificates")
			}
		})
	}
}

func TestParseURLSentinelCredentials(t *testing.T) {
	for _, c := range []struct {
		url, user, pass, suser, spass string
	}{
		{"redis+sentinel://u:p@s/m", "u", "p", "u", "p"},
		{"redis+sentinel://:p@s/m?sentinel_password=", "", "p", "", ""},
		{"redis+sentinel://u:p@s/m?sentinel_username=su&sentinel_password=s%26p", "u", "p", "su", "s&p"},
		{"redis+sentinel://s/m/2?sentinel_password=sp", "", "", "", "sp"},
	} {
		o, err := ParseURL(c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if o.Username != c.user || o.Password != c.pass || o.SentinelUsername != c.suser || o.SentinelPassword != c.spass {
			t.Errorf("%s: servers %q/%q, sentinels %q/%q; want %q/%q, %q/%q", c.url, o.Username, o.Password,
				o.SentinelUsername, o.SentinelPassword, c.user, c.pass, c.suser, c.spass)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, c := range []struct{ url, msg string }{
		{"127.0.0.1:6379", "missing scheme"},
		{"http://h:1", "unsupported scheme"},
		{"unix:///tmp/redis.sock", "unsupported scheme"},
		{"redis://", "no host"},
		{"redis://u:p@", "no host"},
		{"redis://a:1,b:2", "several hosts"},
		{"redis://h:1/x", "not a non-negative number"},
		{"redis://h:1/-1", "not a non-negative number"},
		{"redis://h:1/0/1", "unexpected path"},
		{"redis://h:0", "bad port"},
		{"redis://h:65536", "bad port"},
		{"redis://h:port", "bad port"},
		{"redis://h:", "bad port"},
		{"redis://:1", "empty host"},
		{"redis://::1:6379", "brackets"},
		{"redis://[::1", "bad IPv6"},
		{"redis://[::1]x", "bad address"},
		{"redis://h:1/0?dial_timeout=1s", "query parameters"},
		{"redis+cluster://a:1?sentinel_password=x", "query parameters"},
		{"redis+sentinel://s:1/m?dial_timeout=1s", "unknown query parameter"},
		{"redis+sentinel://s:1/m?sentinel_password=a&sentinel_password=b", "given 2 times"},
		{"redis+sentinel://s:1/m?sentinel_password=%zz", "bad query"},
		{"redis://h:1/0#frag", "fragments"},
		{"redis+cluster://a:1,,b:2", "empty host"},
		{"redis+cluster://a:1,b:2/3", "only database 0"},
		{"redis+sentinel://s:1", "master name"},
		{"redis+sentinel://s:1/", "master name"},
		{"redis+sentinel://s:1/m/x", "not a non-negative number"},
		{"redis://u:%zz@h:1", "bad password escape"},
	} {
		t.Run(c.url, func(t *testing.T) {
			_, err := ParseURL(c.url)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want one containing %q", err, c.msg)
			}
			if strings.Contains(c.url, "%zz") && strings.Contains(err.Error(), "%zz") {
				t.Errorf("error echoes the password: %v", err)
			}
		})
	}
}
