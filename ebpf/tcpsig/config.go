package tcpsig

import (
	"io"
	"log/slog"
)

// Config configures Open and Auto. The zero value is the documented default.
type Config struct {
	// CgroupPath is the cgroup v2 directory the sockops program attaches
	// to; it instruments the sockets of every process in that cgroup and
	// its descendants. Empty means the calling process's own cgroup v2
	// directory (from /proc/self/cgroup under the cgroup2 mount, e.g.
	// /sys/fs/cgroup/unified/system.slice/brink.service), so only brink's
	// sockets pay for it; when that cannot be found, /sys/fs/cgroup/unified.
	CgroupPath string `json:"cgroup_path,omitempty"`
	// Logger receives the one line saying which mode was chosen (and why
	// eBPF was not) and lifecycle warnings. Nil discards.
	Logger *slog.Logger `json:"-"`
}

// DefaultCgroupRoot is the cgroup v2 mount used when the process's own
// cgroup cannot be resolved.
const DefaultCgroupRoot = "/sys/fs/cgroup/unified"

func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c.Logger
}
