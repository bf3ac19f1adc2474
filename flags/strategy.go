package flags

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
)

type stratKind uint8

const (
	stratFalse stratKind = iota // unknown/custom or uncompilable
	stratTrue                   // default, or applicationHostname matching this host
	stratUserWithID
	stratRollout // gradualRolloutUserId/SessionId, flexibleRollout
	stratRandom  // gradualRolloutRandom
	stratRemoteAddress
)

// cstrategy is a compiled strategy: its own constraints followed by those
// of its segments, and its parameters parsed.
type cstrategy struct {
	kind        stratKind
	constraints []cconstraint
	percent     uint32
	stick       stickiness
	groupPrefix string // "<groupId>:"
	userIDs     []string
	userSet     map[string]struct{}
	nets        []netip.Prefix
	// variants is non-nil when the strategy carries a variants member.
	variants *cvariants
}

// hostname is this machine's name, lower-cased, as applicationHostname
// compares it. Like Edge, a "hostname" environment variable overrides it.
var hostname = sync.OnceValue(func() string {
	if h := os.Getenv("hostname"); h != "" {
		return strings.ToLower(h)
	}
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return strings.ToLower(h)
})

// compileStrategy compiles s of the feature flagName. segs maps segment
// ids to their compiled constraints.
func compileStrategy(s *Strategy, flagName string, segs map[int][]cconstraint, rc *regexCache, warn func(string)) cstrategy {
	cs := cstrategy{kind: stratFalse}
	param := func(k string) (string, bool) {
		v, ok := s.Parameters[k]
		return v, ok
	}
	groupID, hasGroup := param("groupId")
	if !hasGroup {
		groupID = flagName
	}
	cs.groupPrefix = groupID + ":"
	percent := func(key string) bool {
		v, ok := param(key)
		if !ok {
			warn("strategy " + strconv.Quote(s.Name) + " has no " + key + " parameter; it evaluates to false")
			return false
		}
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			warn("strategy " + strconv.Quote(s.Name) + ": " + key + " " + strconv.Quote(v) + " is not a percentage; it evaluates to false")
			return false
		}
		cs.percent = uint32(n)
		return true
	}
	switch s.Name {
	case "default":
		cs.kind = stratTrue
	case "userWithId":
		if ids, ok := param("userIds"); ok {
			cs.kind = stratUserWithID
			for id := range strings.SplitSeq(ids, ",") {
				cs.userIDs = append(cs.userIDs, strings.TrimSpace(id))
			}
			if len(cs.userIDs) > smallSet {
				cs.userSet = make(map[string]struct{}, len(cs.userIDs))
				for _, id := range cs.userIDs {
					cs.userSet[id] = struct{}{}
				}
				cs.userIDs = nil
			}
		}
	case "gradualRolloutUserId", "gradualRolloutSessionId":
		// Edge requires an explicit groupId for these legacy strategies.
		if hasGroup && percent("percentage") {
			cs.kind = stratRollout
			cs.stick = stickiness{kind: stickField, field: fieldRef{kind: fieldUserID}}
			if s.Name == "gradualRolloutSessionId" {
				cs.stick.field.kind = fieldSessionID
			}
		} else if !hasGroup {
			warn("strategy " + strconv.Quote(s.Name) + " has no groupId parameter; it evaluates to false")
		}
	case "gradualRolloutRandom":
		if percent("percentage") {
			cs.kind = stratRandom
		}
	case "flexibleRollout":
		if percent("rollout") {
			cs.kind = stratRollout
			st, _ := param("stickiness")
			cs.stick = rolloutStickiness(st)
		}
	case "remoteAddress":
		if ips, ok := param("IPs"); ok {
			cs.kind = stratRemoteAddress
			cs.nets = parseNets(strings.Split(ips, ","), func(string) {})
		}
	case "applicationHostname":
		names, _ := param("hostNames")
		h := hostname()
		for n := range strings.SplitSeq(names, ",") {
			if strings.ToLower(strings.TrimSpace(n)) == h && h != "" {
				cs.kind = stratTrue
			}
		}
	default:
		warn("unknown strategy " + strconv.Quote(s.Name) + " evaluates to false")
	}
	for i := range s.Constraints {
		cs.constraints = append(cs.constraints, compileConstraint(&s.Constraints[i], rc, warn))
	}
	for _, id := range s.Segments {
		sc, ok := segs[id]
		if !ok {
			warn("strategy " + strconv.Quote(s.Name) + " references unknown segment " + strconv.Itoa(id) + "; it evaluates to false")
			cs.kind = stratFalse
			continue
		}
		cs.constraints = append(cs.constraints, sc...)
	}
	if s.Variants != nil {
		st, ok := param("stickiness")
		if !ok {
			st = "default"
		}
		cs.variants = compileVariants(s.Variants, variantStickiness(st), cs.groupPrefix)
	}
	return cs
}

// eval reports whether the strategy is on for ctx.
func (s *cstrategy) eval(ctx *Context) bool {
	if s.kind == stratFalse {
		return false
	}
	for i := range s.constraints {
		if !s.constraints[i].eval(ctx) {
			return false
		}
	}
	switch s.kind {
	case stratTrue:
		return true
	case stratUserWithID:
		if ctx.Has&HasUserID == 0 {
			return false
		}
		if s.userSet != nil {
			_, ok := s.userSet[ctx.UserID]
			return ok
		}
		for _, id := range s.userIDs {
			if id == ctx.UserID {
				return true
			}
		}
		return false
	case stratRollout:
		v, ok := s.stick.value(ctx)
		var h uint32
		switch {
		case ok:
			h = normalizedHash(s.groupPrefix, v, 100, 0)
		case s.stick.kind == stickField:
			return false
		default:
			h = randomPercent()
		}
		return h <= s.percent
	case stratRandom:
		return uint32(rand.IntN(99)) < s.percent
	case stratRemoteAddress:
		return ctx.Has&HasRemoteAddress != 0 && matchNets(s.nets, ctx.RemoteAddress)
	}
	return false
}
