package flags

import "math/rand/v2"

// cvariant is one compiled variant; frag is its index among the flag's
// pre-serialised frontend fragments.
type cvariant struct {
	name      string
	weight    int
	payload   *Payload
	frag      int
	overrides []coverride
}

type coverride struct {
	field  fieldRef
	values []string
}

// cvariants is a compiled variant list: feature variants, or the variants
// of one strategy.
type cvariants struct {
	vars        []cvariant
	total       int
	stick       stickiness
	groupPrefix string // "<groupId>:"
}

// compileVariants compiles vs picked with stick and hashed under
// groupPrefix. Fragment indices are assigned later by the flag compiler.
func compileVariants(vs []Variant, stick stickiness, groupPrefix string) *cvariants {
	cv := &cvariants{stick: stick, groupPrefix: groupPrefix}
	for i := range vs {
		v := &vs[i]
		c := cvariant{name: v.Name, weight: v.Weight, payload: v.Payload}
		if c.weight < 0 {
			c.weight = 0
		}
		for _, o := range v.Overrides {
			c.overrides = append(c.overrides, coverride{field: overrideField(o.ContextName), values: o.Values})
		}
		cv.total += c.weight
		cv.vars = append(cv.vars, c)
	}
	return cv
}

// overrideField resolves an override's context name as Edge does: the
// well-known fields, anything else is a property.
func overrideField(name string) fieldRef { return resolveField(name) }

// resolve returns the index of the variant picked for ctx, or -1 when there
// is none (no variants, or all weights zero).
func (cv *cvariants) resolve(ctx *Context) int {
	if len(cv.vars) == 0 {
		return -1
	}
	for i := range cv.vars {
		for j := range cv.vars[i].overrides {
			o := &cv.vars[i].overrides[j]
			v, ok := o.field.value(ctx)
			if !ok {
				continue
			}
			for _, want := range o.values {
				if want == v {
					return i
				}
			}
		}
	}
	if cv.total <= 0 {
		return -1
	}
	var target int
	if v, ok := cv.stick.value(ctx); ok {
		target = int(normalizedHash(cv.groupPrefix, v, uint32(cv.total), variantSeed))
	} else {
		target = rand.IntN(cv.total)
	}
	sum := 0
	for i := range cv.vars {
		sum += cv.vars[i].weight
		if sum >= target {
			return i
		}
	}
	return -1
}
