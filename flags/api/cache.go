package api

import (
	"encoding/binary"
	"sync"

	"github.com/brink-edge/brink/flags"
)

// boundedCache maps byte keys to values computed once per snapshot
// version. Lookups take a read lock and allocate nothing. When a value is
// stored for a group (a token environment), the values of that group made
// for older snapshot versions are dropped; beyond max entries an arbitrary
// half is dropped.
type boundedCache[V any] struct {
	mu  sync.RWMutex
	m   map[string]cacheSlot[V]
	max int
}

type cacheSlot[V any] struct {
	v       V
	group   string
	version uint64
}

func newBoundedCache[V any](max int) *boundedCache[V] {
	return &boundedCache[V]{m: make(map[string]cacheSlot[V]), max: max}
}

// get returns the value under key.
func (c *boundedCache[V]) get(key []byte) (V, bool) {
	c.mu.RLock()
	s, ok := c.m[string(key)]
	c.mu.RUnlock()
	return s.v, ok
}

// put stores v under key unless a value is already there, and returns the
// value that is.
func (c *boundedCache[V]) put(key []byte, group string, version uint64, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[string(key)]; ok {
		return s.v
	}
	for k, s := range c.m {
		if s.group == group && s.version < version {
			delete(c.m, k)
		}
	}
	if len(c.m) >= c.max {
		n := len(c.m) / 2
		for k := range c.m {
			if n == 0 {
				break
			}
			delete(c.m, k)
			n--
		}
	}
	c.m[string(key)] = cacheSlot[V]{v: v, group: group, version: version}
	return v
}

// len returns the number of entries.
func (c *boundedCache[V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// appendScopeKey appends the key of a token scope in a snapshot: the
// version, the token environment and the projects.
func appendScopeKey(dst []byte, version uint64, tok *flags.Token) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, version)
	dst = append(dst, tok.Environment...)
	dst = append(dst, 0)
	for _, p := range tok.Projects {
		dst = append(dst, p...)
		dst = append(dst, 0)
	}
	return append(dst, 1)
}

// scopeFor returns the (cached) scope of tok's projects in snap.
func (h *Handler) scopeFor(st *reqState, snap *flags.Snapshot, tok *flags.Token) *flags.Scope {
	st.key = appendScopeKey(st.key[:0], snap.Version, tok)
	if sc, ok := h.scopes.get(st.key); ok {
		return sc
	}
	sc := snap.Plan.Scope(tok.Projects, "")
	return h.scopes.put(st.key, tok.Environment, snap.Version, sc)
}

// featureEntry is a cached /api/client/features answer: its body, strong
// ETag and compressed forms, all immutable once set.
type featureEntry struct {
	body     []byte
	etag     []byte
	features int // feature definitions in body, for countDefinitions

	gzipOnce, zstdOnce sync.Once
	gzip, zstd         []byte
}

func newFeatureEntry(body []byte) *featureEntry {
	return &featureEntry{body: body, etag: appendETag(nil, body)}
}

// encoded returns the body in the coding enc, compressing it on first use.
func (e *featureEntry) encoded(enc encoding) []byte {
	switch enc {
	case encGzip:
		e.gzipOnce.Do(func() { e.gzip = compressBest(e.body, encGzip) })
		return e.gzip
	case encZstd:
		e.zstdOnce.Do(func() { e.zstd = compressBest(e.body, encZstd) })
		return e.zstd
	}
	return e.body
}
