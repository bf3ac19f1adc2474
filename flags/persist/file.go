package persist

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/brink-edge/brink/flags"
)

// File keeps the state in a backup folder (--backup-folder), in Unleash
// Edge's files. Each file is replaced atomically: written to a temporary
// file in the same folder, synced, and renamed over the old one, so a crash
// leaves either the old or the new file, never a torn one. The three files
// are replaced one after the other, not as one unit.
//
// New files get mode 0600 (they hold SDK tokens); a replaced file keeps
// its mode. A File is safe for concurrent use; a folder should belong to
// one process.
type File struct {
	dir string
	mu  sync.Mutex // serialises Save and Load

	// rename is os.Rename; tests replace it to simulate a crash.
	rename func(oldpath, newpath string) error
}

var _ flags.Persister = (*File)(nil)

// tempPattern is the os.CreateTemp pattern of the temporary file written
// before name is replaced.
func tempPattern(name string) string { return "." + name + ".*.tmp" }

// staleTemp is how old a leftover temporary file must be for NewFile to
// remove it.
const staleTemp = 10 * time.Minute

// NewFile returns a File for the folder dir, creating it (and its parents,
// mode 0755) when it does not exist. Temporary files left behind by a
// crashed save are removed.
func NewFile(dir string) (*File, error) {
	if dir == "" {
		return nil, errors.New("persist: --backup-folder is empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("persist: backup folder %s cannot be created: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("persist: backup folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("persist: backup folder %s is not a directory", dir)
	}
	f := &File{dir: dir, rename: os.Rename}
	f.removeStaleTemps(time.Now().Add(-staleTemp))
	return f, nil
}

// Dir returns the backup folder.
func (f *File) Dir() string { return f.dir }

func (f *File) path(name string) string { return filepath.Join(f.dir, name) }

// removeStaleTemps removes this package's temporary files last modified
// before cutoff. Errors are ignored: a leftover file is harmless.
func (f *File) removeStaleTemps(cutoff time.Time) {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".tmp") {
			continue
		}
		for _, target := range []string{TokensFile, FeaturesFile, LastEventIDsFile} {
			if ok, _ := filepath.Match(tempPattern(target), name); !ok {
				continue
			}
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
				_ = os.Remove(f.path(name))
			}
		}
	}
}

// Load reads the three files. A missing file counts as empty and nil, nil
// means none exists. An unreadable or corrupt file is an error that names
// it; no state is returned then.
func (f *File) Load(ctx context.Context) (*flags.PersistedState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := stored{
		tokensAt:       f.path(TokensFile),
		featuresAt:     f.path(FeaturesFile),
		lastEventIDsAt: f.path(LastEventIDsFile),
	}
	var err error
	if s.tokens, err = readOptional(s.tokensAt); err != nil {
		return nil, err
	}
	if s.features, err = readOptional(s.featuresAt); err != nil {
		return nil, err
	}
	if s.lastEventIDs, err = readOptional(s.lastEventIDsAt); err != nil {
		return nil, err
	}
	return s.decode()
}

// readOptional reads path: nil, nil when it does not exist; an empty file
// reads as a non-nil empty slice (and is then corrupt JSON).
func readOptional(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("persist: %s cannot be read: %w", path, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// Save replaces the three files with st (nil saves an empty state). Only
// validated tokens are written.
func (f *File) Save(ctx context.Context, st *flags.PersistedState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := encodeState(st)
	if err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Features first: after a crash part-way, old tokens with new features
	// is the better mix (tokens only ever point at features).
	if err := f.replace(FeaturesFile, d.features); err != nil {
		return err
	}
	if err := f.replace(TokensFile, d.tokens); err != nil {
		return err
	}
	if err := f.replace(LastEventIDsFile, d.lastEventIDs); err != nil {
		return err
	}
	syncDir(f.dir)
	return nil
}

// replace atomically replaces the file name with data.
func (f *File) replace(name string, data []byte) (err error) {
	path := f.path(name)
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(f.dir, tempPattern(name))
	if err != nil {
		return fmt.Errorf("persist: %s cannot be written: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("persist: %s cannot be written: %w", path, err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("persist: %s cannot be written: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("persist: %s cannot be written: sync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("persist: %s cannot be written: %w", path, err)
	}
	if err = f.rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("persist: %s cannot be replaced: %w", path, err)
	}
	return nil
}

// syncDir makes the renames in dir durable. It is best effort: some file
// systems cannot sync a directory.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
