package relay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// batch is one encoded batch: gzip-compressed JSON lines.
type batch struct {
	seq     uint64
	records int
	key     string // Idempotency-Key
	body    []byte // nil for a spooled batch not read back yet
	size    int64
}

// batchStore keeps the batches the upstream has not taken yet, oldest
// first. Only the connector's sender goroutine calls its methods; stats
// are atomics, read by others.
type batchStore interface {
	// push appends b and returns the records of the oldest batches removed
	// to keep the bound (b itself among them when it alone is too large).
	push(b *batch) (evicted int, err error)
	// oldest returns the oldest batch with its body, ok false when empty.
	// An error comes with the batch that could not be read, which the store
	// has given up on.
	oldest() (b *batch, ok bool, err error)
	// remove removes the oldest batch, which oldest returned.
	remove(b *batch)
	// nextSeq is one more than the highest sequence number stored.
	nextSeq() uint64
	stats() (files, bytes int64)
}

// Spool file names: <seq, 20 digits>-<records>-<idempotency key>.ndjson.gz.
const spoolSuffix = ".ndjson.gz"

func spoolName(b *batch) string {
	return fmt.Sprintf("%020d-%d-%s%s", b.seq, b.records, b.key, spoolSuffix)
}

// parseSpoolName reads a spool file name back; ok is false for any other
// name.
func parseSpoolName(name string) (b batch, ok bool) {
	rest, found := strings.CutSuffix(name, spoolSuffix)
	if !found {
		return b, false
	}
	seqS, rest, found := strings.Cut(rest, "-")
	if !found || len(seqS) != 20 {
		return b, false
	}
	recS, key, found := strings.Cut(rest, "-")
	if !found || key == "" || !validKey(key) {
		return b, false
	}
	seq, err := strconv.ParseUint(seqS, 10, 64)
	if err != nil {
		return b, false
	}
	n, err := strconv.Atoi(recS)
	if err != nil || n < 0 || recS != strconv.Itoa(n) {
		return b, false
	}
	return batch{seq: seq, records: n, key: key}, true
}

// validKey reports whether key is made of [A-Za-z0-9._-] and at most 128
// bytes: safe in a file name and a header.
func validKey(key string) bool {
	if len(key) > 128 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// diskSpool is the on-disk batchStore: one file per batch in dir.
type diskSpool struct {
	dir     string
	max     int64
	files   []*batch // oldest first, bodies not loaded
	nBytes  atomic.Int64
	nFiles  atomic.Int64
	highSeq uint64
}

// openDiskSpool opens (creating) dir and lists the batches a previous run
// left there. Temporary files of an interrupted write are removed; files
// that are not spool batches are left alone.
func openDiskSpool(dir string, maxBytes int64) (*diskSpool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("relay: spool folder %s cannot be created: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("relay: spool folder %s cannot be read: %w", dir, err)
	}
	s := &diskSpool{dir: dir, max: maxBytes}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		if strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		b, ok := parseSpoolName(name)
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		b.size = fi.Size()
		s.files = append(s.files, &b)
	}
	slices.SortFunc(s.files, func(x, y *batch) int {
		switch {
		case x.seq < y.seq:
			return -1
		case x.seq > y.seq:
			return 1
		}
		return strings.Compare(x.key, y.key)
	})
	for _, b := range s.files {
		s.highSeq = max(s.highSeq, b.seq)
		s.nBytes.Add(b.size)
	}
	s.nFiles.Store(int64(len(s.files)))
	return s, nil
}

func (s *diskSpool) path(b *batch) string { return filepath.Join(s.dir, spoolName(b)) }

func (s *diskSpool) push(b *batch) (int, error) {
	if err := writeAtomic(s.dir, spoolName(b), b.body); err != nil {
		return 0, err
	}
	stored := &batch{seq: b.seq, records: b.records, key: b.key, size: int64(len(b.body))}
	s.files = append(s.files, stored)
	s.highSeq = max(s.highSeq, b.seq)
	s.nBytes.Add(stored.size)
	s.nFiles.Add(1)
	evicted := 0
	for s.nBytes.Load() > s.max && len(s.files) > 0 {
		old := s.files[0]
		s.remove(old)
		evicted += old.records
	}
	return evicted, nil
}

func (s *diskSpool) oldest() (*batch, bool, error) {
	for len(s.files) > 0 {
		b := s.files[0]
		body, err := os.ReadFile(s.path(b))
		if errors.Is(err, fs.ErrNotExist) {
			s.forget(b) // removed by hand: nothing to send
			continue
		}
		if err != nil {
			// Unreadable: leave the file for a person to look at, and stop
			// it from blocking every newer batch.
			s.forget(b)
			return b, false, fmt.Errorf("relay: reading spooled batch %s: %w", s.path(b), err)
		}
		out := *b
		out.body = body
		return &out, true, nil
	}
	return nil, false, nil
}

func (s *diskSpool) remove(b *batch) {
	if len(s.files) == 0 || s.files[0].seq != b.seq || s.files[0].key != b.key {
		return
	}
	_ = os.Remove(s.path(s.files[0]))
	s.forget(s.files[0])
}

func (s *diskSpool) forget(b *batch) {
	s.files[0] = nil
	s.files = s.files[1:]
	s.nBytes.Add(-b.size)
	s.nFiles.Add(-1)
}

func (s *diskSpool) nextSeq() uint64 {
	if len(s.files) == 0 && s.highSeq == 0 {
		return 1
	}
	return s.highSeq + 1
}

func (s *diskSpool) stats() (int64, int64) { return s.nFiles.Load(), s.nBytes.Load() }

// writeAtomic writes data to dir/name through a temporary file that is
// synced and renamed, so a crash leaves the whole file or none.
func writeAtomic(dir, name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("relay: spool file %s cannot be created: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("relay: spool file %s cannot be written: %w", name, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("relay: spool file %s cannot be synced: %w", name, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("relay: spool file %s cannot be written: %w", name, err)
	}
	if err = os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("relay: spool file %s cannot be renamed into place: %w", name, err)
	}
	return nil
}

// memSpool is the in-memory batchStore used without a SpoolDir.
type memSpool struct {
	max     int64
	batches []*batch
	nBytes  atomic.Int64
	nFiles  atomic.Int64
	seq     uint64
}

func (m *memSpool) push(b *batch) (int, error) {
	b.size = int64(len(b.body))
	m.batches = append(m.batches, b)
	m.seq = max(m.seq, b.seq)
	m.nBytes.Add(b.size)
	m.nFiles.Add(1)
	evicted := 0
	for m.nBytes.Load() > m.max && len(m.batches) > 0 {
		old := m.batches[0]
		m.remove(old)
		evicted += old.records
	}
	return evicted, nil
}

func (m *memSpool) oldest() (*batch, bool, error) {
	if len(m.batches) == 0 {
		return nil, false, nil
	}
	return m.batches[0], true, nil
}

func (m *memSpool) remove(b *batch) {
	if len(m.batches) == 0 || m.batches[0] != b {
		return
	}
	m.batches[0] = nil
	m.batches = m.batches[1:]
	m.nBytes.Add(-b.size)
	m.nFiles.Add(-1)
}

func (m *memSpool) nextSeq() uint64              { return m.seq + 1 }
func (m *memSpool) stats() (files, nBytes int64) { return m.nFiles.Load(), m.nBytes.Load() }

// backoff is the wait before retry attempt n (0-based): 250 ms·2^n, at
// most 30 s, plus up to 20 % jitter from j (a value in [0, 1)).
func backoff(n int, j float64) time.Duration {
	d := 250 * time.Millisecond << min(n, 7)
	d = min(d, 30*time.Second)
	return d + time.Duration(float64(d)/5*j)
}
