package flags

// semver is a parsed semantic version (semver 2.0). pre is the pre-release
// part without the leading '-' (empty for a release); build metadata is
// ignored for precedence and not kept. pre aliases the parsed string.
type semver struct {
	major, minor, patch uint64
	pre                 string
}

// parseSemver parses s strictly as MAJOR.MINOR.PATCH[-PRE][+BUILD], as the
// Rust semver crate does: no "v" prefix, no leading zeros in numeric parts,
// no empty identifiers. It allocates nothing.
func parseSemver(s string) (semver, bool) {
	var v semver
	var ok bool
	if v.major, s, ok = semverNum(s); !ok || len(s) == 0 || s[0] != '.' {
		return v, false
	}
	if v.minor, s, ok = semverNum(s[1:]); !ok || len(s) == 0 || s[0] != '.' {
		return v, false
	}
	if v.patch, s, ok = semverNum(s[1:]); !ok {
		return v, false
	}
	if len(s) > 0 && s[0] == '-' {
		end := len(s)
		for i := 1; i < len(s); i++ {
			if s[i] == '+' {
				end = i
				break
			}
		}
		v.pre = s[1:end]
		if !semverIdents(v.pre, true) {
			return v, false
		}
		s = s[end:]
	}
	if len(s) > 0 {
		if s[0] != '+' || !semverIdents(s[1:], false) {
			return v, false
		}
	}
	return v, true
}

// semverNum parses a numeric part without leading zeros.
func semverNum(s string) (uint64, string, bool) {
	i := 0
	var n uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if n > (1<<64-1-d)/10 {
			return 0, s, false
		}
		n = n*10 + d
		i++
	}
	if i == 0 || (i > 1 && s[0] == '0') {
		return 0, s, false
	}
	return n, s[i:], true
}

// semverIdents validates dot-separated identifiers of [0-9A-Za-z-]; for
// pre-release identifiers, numeric ones must not have leading zeros.
func semverIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
			continue
		}
		id := s[start:i]
		if id == "" {
			return false
		}
		if pre && len(id) > 1 && id[0] == '0' && allDigits(id) {
			return false
		}
		start = i + 1
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareSemver returns -1, 0 or +1 by semver 2.0 precedence: numeric parts,
// then a release ranks above any pre-release, then pre-release identifiers
// left to right (numeric ones numerically and below alphanumeric ones,
// alphanumeric ones in ASCII order, a shorter list first when equal so far).
func compareSemver(a, b semver) int {
	if c := cmpU64(a.major, b.major); c != 0 {
		return c
	}
	if c := cmpU64(a.minor, b.minor); c != 0 {
		return c
	}
	if c := cmpU64(a.patch, b.patch); c != 0 {
		return c
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	x, y := a.pre, b.pre
	for {
		var ix, iy string
		ix, x = nextIdent(x)
		iy, y = nextIdent(y)
		if c := cmpIdent(ix, iy); c != 0 {
			return c
		}
		switch {
		case x == "" && y == "":
			return 0
		case x == "":
			return -1
		case y == "":
			return 1
		}
	}
}

func nextIdent(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func cmpIdent(a, b string) int {
	an, bn := allDigits(a), allDigits(b)
	switch {
	case an && bn:
		if len(a) != len(b) { // no leading zeros: longer is larger
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
	case an:
		return -1
	case bn:
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
