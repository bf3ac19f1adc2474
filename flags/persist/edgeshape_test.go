package persist

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// This file checks documents against the shapes Unleash Edge deserialises
// them into (serde, unleash-types ClientFeatures and unleash-edge-types
// EdgeToken): which members are required, which may be null or absent, and
// their JSON types. A document that passes would be accepted by Edge.

type shapeChecker struct{ errs []string }

func (c *shapeChecker) fail(path, format string, args ...any) {
	if len(c.errs) < 20 {
		c.errs = append(c.errs, path+": "+fmt.Sprintf(format, args...))
	}
}

func (c *shapeChecker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return fmt.Errorf("not in Unleash Edge's shape:\n  %s", strings.Join(c.errs, "\n  "))
}

func decodeAny(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// checkEdgeFeatures checks a features document: Vec<(String, ClientFeatures)>.
func checkEdgeFeatures(data []byte) error {
	v, err := decodeAny(data)
	if err != nil {
		return err
	}
	c := &shapeChecker{}
	arr, ok := v.([]any)
	if !ok {
		return fmt.Errorf("top level is %T, want an array of pairs", v)
	}
	for i, e := range arr {
		p := fmt.Sprintf("[%d]", i)
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			c.fail(p, "want a 2-element array, got %v", e)
			continue
		}
		if _, ok := pair[0].(string); !ok {
			c.fail(p+"[0]", "environment must be a string")
		}
		c.clientFeatures(p+"[1]", pair[1])
	}
	return c.err()
}

// checkEdgeTokens checks a tokens document: Vec<EdgeToken>.
func checkEdgeTokens(data []byte) error {
	v, err := decodeAny(data)
	if err != nil {
		return err
	}
	c := &shapeChecker{}
	arr, ok := v.([]any)
	if !ok {
		return fmt.Errorf("top level is %T, want an array", v)
	}
	for i, e := range arr {
		p := fmt.Sprintf("[%d]", i)
		o := c.object(p, e, true)
		if o == nil {
			continue
		}
		c.str(p+".token", o, true)
		if t, ok := o["type"]; ok && t != nil {
			if s, _ := t.(string); !oneOf(s, "client", "backend", "frontend", "admin", "invalid") {
				c.fail(p+".type", "unknown token type %v", t)
			}
		}
		c.str(p+".environment", o, false)
		c.strings(p+".projects", o["projects"], true)
		if s, _ := o["status"].(string); !oneOf(s, "Validated", "Invalid", "Unknown", "Trusted") {
			c.fail(p+".status", "unknown status %v", o["status"])
		}
	}
	return c.err()
}

// checkEdgeLastEventIDs checks HashMap<String, u64>.
func checkEdgeLastEventIDs(data []byte) error {
	v, err := decodeAny(data)
	if err != nil {
		return err
	}
	c := &shapeChecker{}
	o := c.object("", v, true)
	for k, n := range o {
		c.uint(k, n, true)
	}
	return c.err()
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}

func (c *shapeChecker) object(path string, v any, required bool) map[string]any {
	if v == nil {
		if required {
			c.fail(path, "required object is null or absent")
		}
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		c.fail(path, "want an object, got %T", v)
	}
	return o
}

func (c *shapeChecker) array(path string, v any, required bool) []any {
	if v == nil {
		if required {
			c.fail(path, "required array is null or absent")
		}
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		c.fail(path, "want an array, got %T", v)
	}
	return a
}

func (c *shapeChecker) str(path string, o map[string]any, required bool) {
	key := path[strings.LastIndexByte(path, '.')+1:]
	v, present := o[key]
	if v == nil {
		if required {
			c.fail(path, "required string is null or absent (present=%v)", present)
		}
		return
	}
	if _, ok := v.(string); !ok {
		c.fail(path, "want a string, got %T", v)
	}
}

func (c *shapeChecker) boolean(path string, o map[string]any, required bool) {
	key := path[strings.LastIndexByte(path, '.')+1:]
	v := o[key]
	if v == nil {
		if required {
			c.fail(path, "required boolean is null or absent")
		}
		return
	}
	if _, ok := v.(bool); !ok {
		c.fail(path, "want a boolean, got %T", v)
	}
}

func (c *shapeChecker) integer(path string, v any, required bool) {
	if v == nil {
		if required {
			c.fail(path, "required integer is null or absent")
		}
		return
	}
	n, ok := v.(json.Number)
	if !ok {
		c.fail(path, "want an integer, got %T", v)
		return
	}
	if _, err := n.Int64(); err != nil {
		c.fail(path, "want an integer, got %s", n)
	}
}

func (c *shapeChecker) uint(path string, v any, required bool) {
	c.integer(path, v, required)
	if n, ok := v.(json.Number); ok && strings.HasPrefix(string(n), "-") {
		c.fail(path, "want a non-negative integer, got %s", n)
	}
}

func (c *shapeChecker) strings(path string, v any, required bool) {
	for i, e := range c.array(path, v, required) {
		if _, ok := e.(string); !ok {
			c.fail(fmt.Sprintf("%s[%d]", path, i), "want a string, got %T", e)
		}
	}
}

func (c *shapeChecker) clientFeatures(path string, v any) {
	o := c.object(path, v, true)
	if o == nil {
		return
	}
	c.uint(path+".version", o["version"], true)
	for i, f := range c.array(path+".features", o["features"], true) {
		c.feature(fmt.Sprintf("%s.features[%d]", path, i), f)
	}
	for i, s := range c.array(path+".segments", o["segments"], false) {
		p := fmt.Sprintf("%s.segments[%d]", path, i)
		so := c.object(p, s, true)
		if so == nil {
			continue
		}
		c.integer(p+".id", so["id"], true)
		for j, k := range c.array(p+".constraints", so["constraints"], true) {
			c.constraint(fmt.Sprintf("%s.constraints[%d]", p, j), k)
		}
	}
	if q := c.object(path+".query", o["query"], false); q != nil {
		if tags := c.array(path+".query.tags", q["tags"], false); tags != nil {
			for i, t := range tags {
				c.strings(fmt.Sprintf("%s.query.tags[%d]", path, i), t, true)
			}
		}
		c.strings(path+".query.projects", q["projects"], false)
		c.str(path+".query.namePrefix", q, false)
		c.str(path+".query.environment", q, false)
		c.boolean(path+".query.inlineSegmentConstraints", q, false)
	}
	if m := c.object(path+".meta", o["meta"], false); m != nil {
		c.str(path+".meta.etag", m, false)
		c.integer(path+".meta.revisionId", m["revisionId"], false)
		c.str(path+".meta.queryHash", m, false)
	}
}

func (c *shapeChecker) feature(path string, v any) {
	o := c.object(path, v, true)
	if o == nil {
		return
	}
	c.str(path+".name", o, true)
	c.boolean(path+".enabled", o, true)
	c.str(path+".type", o, false)
	c.str(path+".description", o, false)
	c.str(path+".project", o, false)
	c.boolean(path+".stale", o, false)
	c.boolean(path+".impressionData", o, false)
	for _, k := range []string{"createdAt", "lastSeenAt"} {
		c.str(path+"."+k, o, false)
		if s, ok := o[k].(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				c.fail(path+"."+k, "not an RFC 3339 date: %q", s)
			}
		}
	}
	for i, s := range c.array(path+".strategies", o["strategies"], false) {
		p := fmt.Sprintf("%s.strategies[%d]", path, i)
		so := c.object(p, s, true)
		if so == nil {
			continue
		}
		c.str(p+".name", so, true)
		c.integer(p+".sortOrder", so["sortOrder"], false)
		for j, id := range c.array(p+".segments", so["segments"], false) {
			c.integer(fmt.Sprintf("%s.segments[%d]", p, j), id, true)
		}
		for j, k := range c.array(p+".constraints", so["constraints"], false) {
			c.constraint(fmt.Sprintf("%s.constraints[%d]", p, j), k)
		}
		if params := c.object(p+".parameters", so["parameters"], false); params != nil {
			for k, pv := range params {
				if _, ok := pv.(string); !ok {
					c.fail(p+".parameters."+k, "want a string, got %T", pv)
				}
			}
		}
		for j, sv := range c.array(p+".variants", so["variants"], false) {
			c.variant(fmt.Sprintf("%s.variants[%d]", p, j), sv)
		}
	}
	for i, fv := range c.array(path+".variants", o["variants"], false) {
		c.variant(fmt.Sprintf("%s.variants[%d]", path, i), fv)
	}
	for i, d := range c.array(path+".dependencies", o["dependencies"], false) {
		p := fmt.Sprintf("%s.dependencies[%d]", path, i)
		do := c.object(p, d, true)
		if do == nil {
			continue
		}
		c.str(p+".feature", do, true)
		c.boolean(p+".enabled", do, false)
		c.strings(p+".variants", do["variants"], false)
	}
}

func (c *shapeChecker) constraint(path string, v any) {
	o := c.object(path, v, true)
	if o == nil {
		return
	}
	c.str(path+".contextName", o, true)
	c.str(path+".operator", o, true)
	c.boolean(path+".caseInsensitive", o, false)
	c.boolean(path+".inverted", o, false)
	c.strings(path+".values", o["values"], false)
	c.str(path+".value", o, false)
}

func (c *shapeChecker) variant(path string, v any) {
	o := c.object(path, v, true)
	if o == nil {
		return
	}
	c.str(path+".name", o, true)
	c.integer(path+".weight", o["weight"], true)
	if wt, ok := o["weightType"]; ok && wt != nil && wt != "fix" && wt != "variable" {
		c.fail(path+".weightType", "want fix or variable, got %v", wt)
	}
	c.str(path+".stickiness", o, false)
	if p := c.object(path+".payload", o["payload"], false); p != nil {
		c.str(path+".payload.type", p, true)
		c.str(path+".payload.value", p, true)
	}
	for i, ov := range c.array(path+".overrides", o["overrides"], false) {
		p := fmt.Sprintf("%s.overrides[%d]", path, i)
		oo := c.object(p, ov, true)
		if oo == nil {
			continue
		}
		c.str(p+".contextName", oo, true)
		c.strings(p+".values", oo["values"], true)
	}
}
