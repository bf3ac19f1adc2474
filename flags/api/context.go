package api

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// parseQueryContext fills c from a GET query string, as Unleash Edge does:
// userId, sessionId, remoteAddress, environment, appName and currentTime
// set their fields; properties[name]=value (brackets also percent-encoded)
// sets a property; any other key is a property too. A field not given at
// top level is taken from a property of its name, which is removed. It
// allocates nothing: the strings alias the Args buffers.
func parseQueryContext(c *flags.Context, args *fasthttp.Args) error {
	for k, v := range args.All() {
		if len(k) == 0 {
			continue
		}
		key, val := b2s(k), b2s(v)
		if inner, ok := strings.CutPrefix(key, "properties["); ok {
			if len(inner) < 2 || inner[len(inner)-1] != ']' {
				return errNestedProperty
			}
			inner = inner[:len(inner)-1]
			if strings.ContainsAny(inner, "[]") {
				return errNestedProperty
			}
			c.SetProperty(inner, val)
			continue
		}
		if key == "properties" {
			return errPropertiesNotMap
		}
		if strings.ContainsAny(key, "[]") {
			return errNestedKey
		}
		c.Set(key, val)
	}
	promoteProperties(c)
	return nil
}

// wellKnown are the context fields that may arrive as properties.
var wellKnown = [...]struct {
	name string
	bit  uint8
}{
	{"userId", flags.HasUserID},
	{"sessionId", flags.HasSessionID},
	{"remoteAddress", flags.HasRemoteAddress},
	{"environment", flags.HasEnvironment},
	{"appName", flags.HasAppName},
	{"currentTime", flags.HasCurrentTime},
}

// promoteProperties moves a property named like a well-known field that
// was not given at top level into that field.
func promoteProperties(c *flags.Context) {
	if len(c.Properties) == 0 {
		return
	}
	for _, f := range wellKnown {
		if c.Has&f.bit != 0 {
			continue
		}
		for i := range c.Properties {
			if c.Properties[i].Key == f.name {
				c.Set(f.name, c.Properties[i].Value)
				c.Properties = append(c.Properties[:i], c.Properties[i+1:]...)
				break
			}
		}
	}
}

// parsePostContext fills c from a POST body: a context object, plain or
// wrapped as {"context": {...}}. Strings, numbers and booleans are taken
// (numbers as written, booleans as "true"/"false"); null, arrays and
// nested objects other than properties are dropped. An empty body is an
// empty context. It allocates (encoding/json).
func parsePostContext(c *flags.Context, body []byte) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] != '{' {
		if !json.Valid(body) {
			return errBodyJSON
		}
		return errBodyNotObject
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return errBodyJSON
	}
	if inner, ok := top["context"]; ok {
		if inner = bytes.TrimSpace(inner); len(inner) > 0 && inner[0] == '{' {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(inner, &m); err != nil {
				return errBodyJSON
			}
			top = m
		}
	}
	for k, v := range top {
		if k == "properties" || k == "" {
			continue
		}
		if s, ok := scalar(v); ok {
			c.Set(k, s)
		}
	}
	if raw, ok := top["properties"]; ok {
		var props map[string]json.RawMessage
		if json.Unmarshal(raw, &props) == nil {
			for k, v := range props {
				if s, ok := scalar(v); ok && k != "" {
					c.SetProperty(k, s)
				}
			}
		}
	}
	promoteProperties(c)
	return nil
}

// scalar returns the string form of a JSON string, number or boolean.
func scalar(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case 't', 'f':
		return string(v), true
	case 'n', '{', '[':
		return "", false
	}
	return string(v), true
}
