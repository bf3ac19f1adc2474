package persist

import (
	"errors"

	"github.com/brink-edge/brink/flags"
)

// Config selects the store from the command-line options.
type Config struct {
	// BackupFolder is --backup-folder.
	BackupFolder string
	// Redis holds the --redis-* options; nil when none is given.
	Redis *RedisConfig
}

// ErrExclusive is returned by Open when both a backup folder and Redis are
// configured.
var ErrExclusive = errors.New("--redis-url and --backup-folder are mutually exclusive")

// Open returns the store cfg selects: a *Redis, a *File, or nil, nil when
// neither is configured (edge mode then runs without persistence).
func Open(cfg Config) (flags.Persister, error) {
	switch {
	case cfg.Redis != nil && cfg.BackupFolder != "":
		return nil, ErrExclusive
	case cfg.Redis != nil:
		r, err := NewRedis(*cfg.Redis)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return r, nil
	case cfg.BackupFolder != "":
		f, err := NewFile(cfg.BackupFolder)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	return nil, nil
}
