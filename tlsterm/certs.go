package tlsterm

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// reloadCheckInterval is how often, at most, a pair's files are stat'ed.
const reloadCheckInterval = time.Second

// fileID tells whether a file changed: rename-into-place changes the
// inode, an in-place write the modification time or size.
type fileID struct {
	mtime int64
	size  int64
	ino   uint64
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{mtime: fi.ModTime().UnixNano(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.ino = st.Ino
	}
	return id, nil
}

// loaded is one loaded version of a pair.
type loaded struct {
	cert          *tls.Certificate
	certID, keyID fileID
}

// pairState is one configured pair and its current certificate.
type pairState struct {
	pair      CertPair
	cur       atomic.Pointer[loaded]
	nextCheck atomic.Int64 // UnixNano of the next stat
	// failed and the IDs are the file state of the last failed load (zero
	// for a missing file), so that a broken pair is logged once per change;
	// touched only under mu, by the one handshake that checks.
	mu                    sync.Mutex
	failed                bool
	failedCert, failedKey fileID
}

// names is the SNI index of the pairs, rebuilt after a reload.
type names struct {
	exact map[string]*pairState
	wild  map[string]*pairState // "*.example.com" under "example.com"
}

// CertStore serves the certificates of several pairs by SNI and reloads a
// pair when its files change. It is safe for concurrent use.
type CertStore struct {
	pairs  []*pairState
	idx    atomic.Pointer[names]
	idxMu  sync.Mutex
	logger *slog.Logger
	now    func() time.Time
}

// NewCertStore loads every pair; a pair that cannot be loaded fails it.
func NewCertStore(pairs []CertPair, logger *slog.Logger) (*CertStore, error) {
	if len(pairs) == 0 {
		return nil, ErrNoCerts
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &CertStore{logger: logger, now: time.Now}
	for _, p := range pairs {
		ps := &pairState{pair: p}
		l, err := loadPair(p)
		if err != nil {
			return nil, err
		}
		ps.cur.Store(l)
		ps.nextCheck.Store(s.now().Add(reloadCheckInterval).UnixNano())
		s.pairs = append(s.pairs, ps)
	}
	s.reindex()
	return s, nil
}

// loadPair reads and checks a pair; the files are stat'ed before reading,
// so a change during the read is seen again at the next check.
func loadPair(p CertPair) (*loaded, error) {
	cid, err := statID(p.CertFile)
	if err != nil {
		return nil, fmt.Errorf("loading certificate %s: %w", p.CertFile, err)
	}
	kid, err := statID(p.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading key %s: %w", p.KeyFile, err)
	}
	cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading certificate pair %s and %s: %w", p.CertFile, p.KeyFile, err)
	}
	if cert.Leaf == nil {
		return nil, fmt.Errorf("loading certificate pair %s and %s: %w", p.CertFile, p.KeyFile, errors.New("no leaf certificate"))
	}
	return &loaded{cert: &cert, certID: cid, keyID: kid}, nil
}

// reindex rebuilds the SNI index from the pairs' current leaves; earlier
// pairs win a name two pairs share.
func (s *CertStore) reindex() {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	n := &names{exact: map[string]*pairState{}, wild: map[string]*pairState{}}
	for _, ps := range s.pairs {
		for _, name := range ps.cur.Load().cert.Leaf.DNSNames {
			name = strings.ToLower(strings.TrimSuffix(name, "."))
			m := n.exact
			if strings.HasPrefix(name, "*.") {
				m, name = n.wild, name[2:]
			}
			if _, ok := m[name]; !ok {
				m[name] = ps
			}
		}
	}
	s.idx.Store(n)
}

// pick returns the pair for an SNI (lower case, no trailing dot).
func (s *CertStore) pick(sni string) *pairState {
	n := s.idx.Load()
	if sni != "" {
		if ps := n.exact[sni]; ps != nil {
			return ps
		}
		if i := strings.IndexByte(sni, '.'); i > 0 {
			if ps := n.wild[sni[i+1:]]; ps != nil {
				return ps
			}
		}
	}
	return s.pairs[0]
}

// GetCertificate is a tls.Config.GetCertificate: it picks the pair for
// the ClientHello's SNI (crypto/tls lower-cases it), reloads it first when
// a check is due and its files changed, and returns its certificate.
func (s *CertStore) GetCertificate(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
	ps := s.pick(strings.TrimSuffix(hi.ServerName, "."))
	s.maybeReload(ps)
	return ps.cur.Load().cert, nil
}

// Certificate returns the current certificate of pair i (in Config order).
func (s *CertStore) Certificate(i int) *tls.Certificate { return s.pairs[i].cur.Load().cert }

// maybeReload stats ps's files when a check is due, one caller at a time,
// and swaps in the new pair when they changed and load.
func (s *CertStore) maybeReload(ps *pairState) {
	now := s.now().UnixNano()
	if now < ps.nextCheck.Load() || !ps.mu.TryLock() {
		return
	}
	defer ps.mu.Unlock()
	if now < ps.nextCheck.Load() {
		return
	}
	ps.nextCheck.Store(now + int64(reloadCheckInterval))
	s.check(ps)
}

// check reloads ps if its files changed; the caller won the check.
func (s *CertStore) check(ps *pairState) {
	cur := ps.cur.Load()
	cid, cerr := statID(ps.pair.CertFile)
	kid, kerr := statID(ps.pair.KeyFile)
	if cerr == nil && kerr == nil && cid == cur.certID && kid == cur.keyID {
		return
	}
	if ps.failed && cid == ps.failedCert && kid == ps.failedKey {
		return // the same broken (or missing) pair: logged already
	}
	l, err := loadPair(ps.pair)
	if err != nil {
		ps.failed, ps.failedCert, ps.failedKey = true, cid, kid
		reloadError.Inc()
		s.logger.Error("tls: certificate reload failed, keeping the previous certificate", "cert", ps.pair.CertFile, "key", ps.pair.KeyFile, "err", err)
		return
	}
	ps.failed = false
	ps.cur.Store(l)
	s.reindex()
	reloadOK.Inc()
	s.logger.Info("tls: certificate reloaded", "cert", ps.pair.CertFile, "names", l.cert.Leaf.DNSNames, "serial", l.cert.Leaf.SerialNumber.String(), "not_after", l.cert.Leaf.NotAfter)
}
