package persist

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func singleOptions(t *testing.T, r *Redis) *redis.Options {
	t.Helper()
	c, ok := r.client.(*redis.Client)
	if !ok {
		t.Fatalf("client is %T, want *redis.Client", r.client)
	}
	return c.Options()
}

// TestRedisConfigMapping follows Unleash Edge's RedisArgs::to_url: a URL or
// scheme://host, then username, password and port replace the URL's, and
// --redis-secure forces rediss.
func TestRedisConfigMapping(t *testing.T) {
	cases := []struct {
		name             string
		cfg              RedisConfig
		addr, user, pass string
		network          string
		tls, insecure    bool
		db               int
	}{
		{name: "url", cfg: RedisConfig{URLs: []string{"redis://localhost:6380"}}, addr: "localhost:6380"},
		{name: "url default port", cfg: RedisConfig{URLs: []string{"redis://cache"}}, addr: "cache:6379"},
		{name: "url without scheme", cfg: RedisConfig{URLs: []string{" cache:7000 "}}, addr: "cache:7000"},
		{name: "url with db and credentials", cfg: RedisConfig{URLs: []string{"redis://u:p@cache:7000/3"}}, addr: "cache:7000", user: "u", pass: "p", db: 3},
		{name: "url with options", cfg: RedisConfig{URLs: []string{"redis://localhost"}, Username: "redis", Password: "password"}, addr: "localhost:6379", user: "redis", pass: "password"},
		{name: "password keeps url user", cfg: RedisConfig{URLs: []string{"redis://alice:old@localhost"}, Password: "new"}, addr: "localhost:6379", user: "alice", pass: "new"},
		{name: "secure overrides url scheme", cfg: RedisConfig{URLs: []string{"redis://localhost"}, Username: "redis", Password: "password", Secure: true}, addr: "localhost:6379", user: "redis", pass: "password", tls: true},
		{name: "rediss url", cfg: RedisConfig{URLs: []string{"rediss://cache.example:6380"}}, addr: "cache.example:6380", tls: true},
		{name: "rediss insecure", cfg: RedisConfig{URLs: []string{"rediss://cache.example:6380/#insecure"}}, addr: "cache.example:6380", tls: true, insecure: true},
		{name: "port overrides url", cfg: RedisConfig{URLs: []string{"redis://cache:1111"}, Port: 2222}, addr: "cache:2222"},
		{name: "several urls in single mode: the first", cfg: RedisConfig{URLs: []string{"redis://a:1", "redis://b:2"}}, addr: "a:1"},
		{name: "host", cfg: RedisConfig{Host: "localhost", Port: 6389, Username: "redis", Password: "password", Scheme: "rediss"}, addr: "localhost:6389", user: "redis", pass: "password", tls: true},
		{name: "host secure", cfg: RedisConfig{Host: "localhost", Port: 6389, Secure: true}, addr: "localhost:6389", tls: true},
		{name: "host tcp", cfg: RedisConfig{Host: "h", Scheme: "tcp"}, addr: "h:6379"},
		{name: "host tls", cfg: RedisConfig{Host: "h", Scheme: "tls"}, addr: "h:6379", tls: true},
		{name: "host default scheme", cfg: RedisConfig{Host: "h"}, addr: "h:6379"},
		{name: "unix host", cfg: RedisConfig{Host: "/run/redis.sock", Scheme: "redis-unix"}, addr: "/run/redis.sock", network: "unix"},
		{name: "unix url", cfg: RedisConfig{URLs: []string{"redis+unix:///run/redis.sock"}}, addr: "/run/redis.sock", network: "unix"},
		{name: "url wins over host", cfg: RedisConfig{URLs: []string{"redis://a:1"}, Host: "b"}, addr: "a:1"},
		{name: "ipv6", cfg: RedisConfig{URLs: []string{"redis://[::1]:7000"}}, addr: "[::1]:7000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewRedis(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			o := singleOptions(t, r)
			network := c.network
			if network == "" {
				network = "tcp"
			}
			if o.Addr != c.addr || o.Network != network || o.Username != c.user || o.Password != c.pass || o.DB != c.db {
				t.Errorf("got %s %s user=%q pass=%q db=%d; want %s %s user=%q pass=%q db=%d",
					o.Network, o.Addr, o.Username, o.Password, o.DB, network, c.addr, c.user, c.pass, c.db)
			}
			if (o.TLSConfig != nil) != c.tls {
				t.Errorf("TLS = %v, want %v", o.TLSConfig != nil, c.tls)
			}
			if o.TLSConfig != nil && o.TLSConfig.InsecureSkipVerify != c.insecure {
				t.Errorf("InsecureSkipVerify = %v", o.TLSConfig.InsecureSkipVerify)
			}
			if o.ReadTimeout != DefaultRedisTimeout || o.WriteTimeout != DefaultRedisTimeout || o.DialTimeout != DefaultRedisTimeout {
				t.Errorf("timeouts %v %v %v, want Edge's default %v", o.ReadTimeout, o.WriteTimeout, o.DialTimeout, DefaultRedisTimeout)
			}
		})
	}
}

func TestRedisConfigTimeouts(t *testing.T) {
	r, err := NewRedis(RedisConfig{URLs: []string{"redis://h"}, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 700 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	o := singleOptions(t, r)
	if o.ReadTimeout != 300*time.Millisecond || o.WriteTimeout != 700*time.Millisecond || o.DialTimeout != 300*time.Millisecond {
		t.Errorf("timeouts %v %v %v", o.ReadTimeout, o.WriteTimeout, o.DialTimeout)
	}
}

func TestRedisConfigCluster(t *testing.T) {
	r, err := NewRedis(RedisConfig{
		URLs:     []string{"rediss://n1:7000", "n2:7001", "redis://n3"},
		Mode:     "Cluster",
		Password: "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, ok := r.client.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client is %T", r.client)
	}
	o := c.Options()
	if strings.Join(o.Addrs, ",") != "n1:7000,n2:7001,n3:6379" || o.Password != "secret" || o.TLSConfig == nil {
		t.Errorf("cluster options: addrs=%v password=%q tls=%v", o.Addrs, o.Password, o.TLSConfig != nil)
	}
	if o.TLSConfig != nil && o.TLSConfig.ServerName != "" {
		t.Errorf("cluster TLS ServerName %q would be checked against every node", o.TLSConfig.ServerName)
	}
	if !strings.Contains(r.where, "n1:7000,n2:7001,n3:6379") || strings.Contains(r.where, "secret") {
		t.Errorf("where = %q", r.where)
	}
}

func TestRedisConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  RedisConfig
		want string
	}{
		{RedisConfig{}, "--redis-url or --redis-host"},
		{RedisConfig{URLs: []string{" ", ""}}, "--redis-url or --redis-host"},
		{RedisConfig{URLs: []string{"redis://h"}, Mode: "sentinel"}, "--redis-mode"},
		{RedisConfig{URLs: []string{"http://h"}}, "scheme"},
		{RedisConfig{Host: "h", Scheme: "ftp"}, "scheme"},
		{RedisConfig{URLs: []string{"redis://h/notanumber"}}, "database"},
		{RedisConfig{URLs: []string{"redis://h"}, Port: 70000}, "--redis-port"},
		{RedisConfig{Host: "/s.sock", Scheme: "unix", Secure: true}, "--redis-secure"},
		{RedisConfig{URLs: []string{"unix:///s.sock"}, Mode: "cluster"}, "TCP"},
		{RedisConfig{URLs: []string{"redis://user:hunter2@h:bad"}}, "--redis-url"},
		{RedisConfig{URLs: []string{"redis://user:hunter2@h/x"}}, "--redis-url"},
	}
	for _, c := range cases {
		r, err := NewRedis(c.cfg)
		if err == nil {
			r.Close()
			t.Errorf("NewRedis(%+v) succeeded", c.cfg)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewRedis(%+v) = %q, want it to mention %q", c.cfg, err, c.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the password: %q", err)
		}
	}
}

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backup")

	p, err := Open(Config{BackupFolder: dir, Redis: &RedisConfig{URLs: []string{"redis://h"}}})
	if p != nil || !errors.Is(err, ErrExclusive) || err.Error() != "--redis-url and --backup-folder are mutually exclusive" {
		t.Errorf("both: %v, %v", p, err)
	}

	p, err = Open(Config{})
	if p != nil || err != nil {
		t.Errorf("none: %v, %v; want nil, nil", p, err)
	}

	p, err = Open(Config{BackupFolder: dir})
	if f, ok := p.(*File); err != nil || !ok || f.Dir() != dir {
		t.Errorf("backup folder: %T %v", p, err)
	}

	// Redis need not be reachable.
	p, err = Open(Config{Redis: &RedisConfig{URLs: []string{"redis://127.0.0.1:1"}}})
	if r, ok := p.(*Redis); err != nil || !ok {
		t.Errorf("redis: %T %v", p, err)
	} else {
		r.Close()
	}

	// A failure is a nil interface, not a typed nil.
	p, err = Open(Config{Redis: &RedisConfig{}})
	if err == nil || p != nil {
		t.Errorf("bad redis config: %#v, %v", p, err)
	}
	regular := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err = Open(Config{BackupFolder: regular})
	if err == nil || p != nil {
		t.Errorf("bad backup folder: %#v, %v", p, err)
	}
}
