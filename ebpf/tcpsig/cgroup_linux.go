//go:build linux

package tcpsig

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// ownCgroup returns the calling process's cgroup v2 directory, or
// DefaultCgroupRoot when it cannot be resolved. Cold path.
func ownCgroup() string {
	mount := cgroup2Mount()
	if mount == "" {
		return DefaultCgroupRoot
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return mount
	}
	for line := range strings.Lines(string(b)) {
		if rel, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			dir := filepath.Join(mount, filepath.Clean("/"+rel))
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				return dir
			}
			return mount
		}
	}
	return mount
}

// cgroup2Mount returns the first cgroup2 mount point in /proc/self/mountinfo.
func cgroup2Mount() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if f := strings.Fields(pre); len(f) >= 5 {
			return f[4]
		}
	}
	return ""
}
