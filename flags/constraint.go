package flags

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

type opKind uint8

const (
	opFalse opKind = iota // uncompilable or unknown: always false
	opIn
	opNotIn
	opStartsWith
	opEndsWith
	opContains
	opNumEq
	opNumGt
	opNumGte
	opNumLt
	opNumLte
	opDateAfter
	opDateBefore
	opSemverEq
	opSemverGt
	opSemverGte
	opSemverLt
	opSemverLte
	opRegex
	opInCIDR
)

var operators = map[string]opKind{
	"IN": opIn, "NOT_IN": opNotIn,
	"STR_STARTS_WITH": opStartsWith, "STR_ENDS_WITH": opEndsWith, "STR_CONTAINS": opContains,
	"NUM_EQ": opNumEq, "NUM_GT": opNumGt, "NUM_GTE": opNumGte, "NUM_LT": opNumLt, "NUM_LTE": opNumLte,
	"DATE_AFTER": opDateAfter, "DATE_BEFORE": opDateBefore,
	"SEMVER_EQ": opSemverEq, "SEMVER_GT": opSemverGt, "SEMVER_GTE": opSemverGte,
	"SEMVER_LT": opSemverLt, "SEMVER_LTE": opSemverLte,
	"REGEX": opRegex, "IN_CIDR": opInCIDR,
}

// smallSet is the size up to which IN lists are scanned instead of hashed.
const smallSet = 8

// cconstraint is a compiled constraint. Everything that does not depend on
// the context (numbers, dates, versions, regexes, prefixes, lower-cased
// values) is parsed once.
type cconstraint struct {
	field    fieldRef
	op       opKind
	inverted bool
	fold     bool // caseInsensitive for STR_* (strs are lower-cased)
	strs     []string
	set      map[string]struct{}
	num      float64
	nanos    int64
	ver      semver
	re       *regexp.Regexp
	nets     []netip.Prefix
}

// compileConstraint compiles c. A constraint that cannot be compiled
// becomes opFalse (false whatever inverted says) and adds a warning.
func compileConstraint(c *Constraint, rc *regexCache, warn func(string)) cconstraint {
	cc := cconstraint{field: resolveField(c.ContextName), inverted: c.Inverted}
	op, ok := operators[c.Operator]
	if !ok {
		warn("unknown operator " + strconv.Quote(c.Operator) + " evaluates to false")
		return cconstraint{op: opFalse}
	}
	switch op {
	case opIn, opNotIn:
		if len(c.Values) > smallSet {
			cc.set = make(map[string]struct{}, len(c.Values))
			for _, v := range c.Values {
				cc.set[v] = struct{}{}
			}
		} else {
			cc.strs = c.Values
		}
	case opStartsWith, opEndsWith, opContains:
		cc.fold = c.CaseInsensitive
		cc.strs = c.Values
		if cc.fold {
			cc.strs = make([]string, len(c.Values))
			for i, v := range c.Values {
				cc.strs[i] = strings.ToLower(v)
			}
		}
	case opNumEq, opNumGt, opNumGte, opNumLt, opNumLte:
		n, ok := parseNumber(c.Value)
		if !ok {
			warn("constraint on " + strconv.Quote(c.ContextName) + ": " + strconv.Quote(c.Value) + " is not a number; it evaluates to false")
			return cconstraint{op: opFalse}
		}
		cc.num = n
	case opDateAfter, opDateBefore:
		t, ok := parseTime(c.Value)
		if !ok {
			warn("constraint on " + strconv.Quote(c.ContextName) + ": " + strconv.Quote(c.Value) + " is not an RFC 3339 date; it evaluates to false")
			return cconstraint{op: opFalse}
		}
		cc.nanos = t
	case opSemverEq, opSemverGt, opSemverGte, opSemverLt, opSemverLte:
		v, ok := parseSemver(c.Value)
		if !ok {
			warn("constraint on " + strconv.Quote(c.ContextName) + ": " + strconv.Quote(c.Value) + " is not a semantic version; it evaluates to false")
			return cconstraint{op: opFalse}
		}
		cc.ver = v
	case opRegex:
		pat := c.Value
		if c.CaseInsensitive {
			pat = "(?i)" + pat
		}
		re, err := rc.compile(pat)
		if err != nil {
			warn("constraint on " + strconv.Quote(c.ContextName) + ": invalid regex " + strconv.Quote(c.Value) + " evaluates to false: " + err.Error())
			return cconstraint{op: opFalse}
		}
		cc.re = re
	case opInCIDR:
		cc.nets = parseNets(c.Values, func(s string) {
			warn("constraint on " + strconv.Quote(c.ContextName) + ": ignoring invalid IP or CIDR " + strconv.Quote(s))
		})
	}
	cc.op = op
	return cc
}

// regexCache shares compiled regexes between the constraints of one
// Compile: a *regexp.Regexp is safe for concurrent use.
type regexCache struct {
	res  map[string]*regexp.Regexp
	errs map[string]error
	// parent, when set, is the cache of the plan CompileFrom starts from:
	// read, never written, until flatten.
	parent *regexCache
}

func (rc *regexCache) compile(pat string) (*regexp.Regexp, error) {
	if re, ok := rc.res[pat]; ok {
		return re, nil
	}
	if err, ok := rc.errs[pat]; ok {
		return nil, err
	}
	if pr := rc.parent; pr != nil {
		if re, ok := pr.res[pat]; ok {
			rc.put(pat, re, nil)
			return re, nil
		}
		if err, ok := pr.errs[pat]; ok {
			rc.put(pat, nil, err)
			return nil, err
		}
	}
	re, err := regexp.Compile(pat)
	rc.put(pat, re, err)
	return re, err
}

func (rc *regexCache) put(pat string, re *regexp.Regexp, err error) {
	if err != nil {
		if rc.errs == nil {
			rc.errs = map[string]error{}
		}
		rc.errs[pat] = err
		return
	}
	if rc.res == nil {
		rc.res = map[string]*regexp.Regexp{}
	}
	rc.res[pat] = re
}

// maxRegexCache bounds what flatten carries over from a parent cache.
const maxRegexCache = 4096

// flatten ends a compile: rc keeps what it compiled or took from its
// parent, plus the parent's other regexes while the two together stay
// under maxRegexCache, so a chain of CompileFrom neither keeps every
// plan's cache alive nor grows without bound.
func (rc *regexCache) flatten() {
	pr := rc.parent
	rc.parent = nil
	if pr == nil || len(pr.res)+len(pr.errs)+len(rc.res)+len(rc.errs) > maxRegexCache {
		return
	}
	for k, v := range pr.res {
		if _, ok := rc.res[k]; !ok {
			rc.put(k, v, nil)
		}
	}
	for k, v := range pr.errs {
		if _, ok := rc.errs[k]; !ok {
			rc.put(k, nil, v)
		}
	}
}

// parseNumber parses a decimal number as Rust's f64 parser does (no hex
// floats, no underscores).
func parseNumber(s string) (float64, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '_' || c == 'x' || c == 'X' || c == 'p' || c == 'P' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// parseNets parses single IPs and CIDRs, v4 and v6, skipping invalid ones.
func parseNets(values []string, bad func(string)) []netip.Prefix {
	var nets []netip.Prefix
	for _, v := range values {
		v = strings.TrimSpace(v)
		if strings.IndexByte(v, '/') >= 0 {
			if p, err := netip.ParsePrefix(v); err == nil {
				nets = append(nets, p.Masked())
				continue
			}
		} else if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
			nets = append(nets, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		bad(v)
	}
	return nets
}

// matchNets reports whether s is an IP inside one of nets.
func matchNets(nets []netip.Prefix, s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return false
	}
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// eval reports whether ctx satisfies the constraint.
func (c *cconstraint) eval(ctx *Context) bool {
	if c.op == opFalse {
		return false
	}
	v, ok := c.field.value(ctx)
	if !ok && (c.op == opDateAfter || c.op == opDateBefore) && c.field.kind == fieldCurrentTime {
		return c.dateResult(time.Now().UnixNano()) != c.inverted
	}
	if !ok {
		// A missing value fails every operator except NOT_IN.
		return (c.op == opNotIn) != c.inverted
	}
	return c.match(v) != c.inverted
}

func (c *cconstraint) dateResult(t int64) bool {
	if c.op == opDateAfter {
		return t > c.nanos
	}
	return t < c.nanos
}

func (c *cconstraint) match(v string) bool {
	switch c.op {
	case opIn:
		return c.contains(v)
	case opNotIn:
		return !c.contains(v)
	case opStartsWith:
		for _, s := range c.strs {
			if c.fold {
				if hasPrefixLower(v, s) {
					return true
				}
			} else if strings.HasPrefix(v, s) {
				return true
			}
		}
	case opEndsWith:
		for _, s := range c.strs {
			if c.fold {
				if hasSuffixLower(v, s) {
					return true
				}
			} else if strings.HasSuffix(v, s) {
				return true
			}
		}
	case opContains:
		for _, s := range c.strs {
			if c.fold {
				if containsLower(v, s) {
					return true
				}
			} else if strings.Contains(v, s) {
				return true
			}
		}
	case opNumEq, opNumGt, opNumGte, opNumLt, opNumLte:
		n, ok := parseNumber(v)
		if !ok {
			return false
		}
		switch c.op {
		case opNumEq:
			d := n - c.num
			return d < 2.220446049250313e-16 && d > -2.220446049250313e-16
		case opNumGt:
			return n > c.num
		case opNumGte:
			return n >= c.num
		case opNumLt:
			return n < c.num
		default:
			return n <= c.num
		}
	case opDateAfter, opDateBefore:
		t, ok := parseTime(v)
		return ok && c.dateResult(t)
	case opSemverEq, opSemverGt, opSemverGte, opSemverLt, opSemverLte:
		sv, ok := parseSemver(v)
		if !ok {
			return false
		}
		r := compareSemver(sv, c.ver)
		switch c.op {
		case opSemverEq:
			return r == 0
		case opSemverGt:
			return r > 0
		case opSemverGte:
			return r >= 0
		case opSemverLt:
			return r < 0
		default:
			return r <= 0
		}
	case opRegex:
		return c.re.MatchString(v)
	case opInCIDR:
		return matchNets(c.nets, v)
	}
	return false
}

func (c *cconstraint) contains(v string) bool {
	if c.set != nil {
		_, ok := c.set[v]
		return ok
	}
	for _, s := range c.strs {
		if s == v {
			return true
		}
	}
	return false
}

// hasPrefixLower reports whether lower(s) starts with p, where p is
// already lower-case. It compares rune by rune and allocates nothing.
func hasPrefixLower(s, p string) bool {
	_, ok := prefixLowerLen(s, p)
	return ok
}

// prefixLowerLen is hasPrefixLower that also returns how many bytes of s
// matched.
func prefixLowerLen(s, p string) (int, bool) {
	i := 0
	for j := 0; j < len(p); {
		if i >= len(s) {
			return 0, false
		}
		sc, pc := s[i], p[j]
		if sc < utf8.RuneSelf && pc < utf8.RuneSelf {
			if 'A' <= sc && sc <= 'Z' {
				sc += 'a' - 'A'
			}
			if sc != pc {
				return 0, false
			}
			i++
			j++
			continue
		}
		sr, ssize := utf8.DecodeRuneInString(s[i:])
		pr, psize := utf8.DecodeRuneInString(p[j:])
		if unicode.ToLower(sr) != pr {
			return 0, false
		}
		i += ssize
		j += psize
	}
	return i, true
}

// hasSuffixLower reports whether lower(s) ends with p (lower-case).
func hasSuffixLower(s, p string) bool {
	i, j := len(s), len(p)
	for j > 0 {
		if i == 0 {
			return false
		}
		sr, ssize := utf8.DecodeLastRuneInString(s[:i])
		pr, psize := utf8.DecodeLastRuneInString(p[:j])
		if unicode.ToLower(sr) != pr {
			return false
		}
		i -= ssize
		j -= psize
	}
	return true
}

// containsLower reports whether lower(s) contains p (lower-case).
func containsLower(s, p string) bool {
	if p == "" {
		return true
	}
	for i := 0; i < len(s); {
		if hasPrefixLower(s[i:], p) {
			return true
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return false
}
