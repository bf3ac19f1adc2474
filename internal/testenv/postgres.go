package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Postgres is a private PostgreSQL cluster (trust authentication, fsync off)
// listening on 127.0.0.1 with a database named "unleash".
type Postgres struct {
	Host     string // 127.0.0.1
	Port     int
	User     string // superuser "postgres"
	Database string // "unleash"

	dir string
	mu  sync.Mutex
	p   *proc
}

// DSN is a libpq URL for the database.
func (pg *Postgres) DSN() string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", pg.User, pg.Host, pg.Port, pg.Database)
}

// pgBinDir finds the directory holding initdb, postgres and createdb:
// $BRINK_PG_BIN, Debian's /usr/lib/postgresql/15/bin, the newest other
// /usr/lib/postgresql/*/bin, or where initdb on PATH really lives.
func pgBinDir() (string, error) {
	ok := func(dir string) bool {
		return executable(filepath.Join(dir, "initdb")) && executable(filepath.Join(dir, "postgres")) &&
			executable(filepath.Join(dir, "createdb"))
	}
	if d := os.Getenv("BRINK_PG_BIN"); d != "" {
		if ok(d) {
			return d, nil
		}
		return "", missing("postgresql in BRINK_PG_BIN=%s", d)
	}
	if ok("/usr/lib/postgresql/15/bin") {
		return "/usr/lib/postgresql/15/bin", nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if ok(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && ok(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	return "", missing("postgresql (initdb, postgres, createdb)")
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// pgCredential is who runs initdb and postgres: postgres refuses root, so as
// root the "postgres" account (created by the Debian package); otherwise the
// current user (nil).
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, missing("a 'postgres' user (postgres refuses to run as root)")
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres user has uid %q gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// StartPostgres initialises a cluster in a private directory, starts
// postgres on a free 127.0.0.1 port, creates database "unleash" and stops the
// server by PID when the test ends. As root, initdb and postgres run as the
// postgres user. Missing binaries skip the test (fail under
// BRINK_REQUIRE_E2E=1).
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	pg, err := startPostgres()
	if err != nil {
		fail(t, err)
	}
	t.Cleanup(func() {
		if err := pg.close(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return pg
}

func startPostgres() (*Postgres, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}
	dir, err := instanceDir("postgres")
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Host: "127.0.0.1", User: "postgres", Database: "unleash", dir: dir}
	ok := false
	defer func() {
		if !ok {
			_ = pg.close()
		}
	}()
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		for _, d := range []string{dir, sock} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	env := []string{"PATH=" + bin + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", "HOME=" + dir}
	logPath := filepath.Join(dir, "postgres.log")

	// initdb: a minute at most (it takes about a second).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir, initdb.Env = dir, env
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}

	for attempt := 0; ; attempt++ {
		if pg.Port, err = freePort(); err != nil {
			return nil, err
		}
		cmd := exec.Command(filepath.Join(bin, "postgres"),
			"-D", data,
			"-p", strconv.Itoa(pg.Port),
			"-k", sock,
			"-c", "listen_addresses=127.0.0.1",
			// A throwaway cluster: durability off, speed on.
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
		)
		cmd.Dir, cmd.Env = dir, env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		// SIGINT is postgres's fast shutdown: it ends its backends too.
		p, err := startProc("postgres", cmd, logPath, syscall.SIGINT)
		if err != nil {
			return nil, err
		}
		pg.mu.Lock()
		pg.p = p
		pg.mu.Unlock()
		err = waitFor(p, 30*time.Second, 100*time.Millisecond, func() error {
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer ccancel()
			c := exec.CommandContext(cctx, filepath.Join(bin, "createdb"),
				"-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-U", pg.User, pg.Database)
			c.Env = env
			out, err := c.CombinedOutput()
			if err != nil {
				return fmt.Errorf("createdb: %v: %s", err, strings.TrimSpace(string(out)))
			}
			return nil
		})
		if err == nil {
			ok = true
			return pg, nil
		}
		if attempt == 2 || !p.exited() || !strings.Contains(tail(logPath, 10), "in use") {
			return nil, err
		}
	}
}

// close stops postgres (fast shutdown by PID, SIGKILL after 10 s) and removes
// its directory.
func (pg *Postgres) close() error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	var err error
	if pg.p != nil {
		err = pg.p.stop(syscall.SIGINT, 10*time.Second)
	}
	if rmErr := removeAll(pg.dir); err == nil {
		err = rmErr
	}
	return err
}
