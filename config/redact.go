package config

import (
	"errors"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
)

// Redacted is what replaces a secret.
const Redacted = "<redacted>"

// redact hides the secret parts of s by the field's secret tag: the whole
// value ("true"), a URL's credentials ("url"), a token's secret part
// ("token") or a header's value ("header").
func redact(how, s string) string {
	if s == "" {
		return s
	}
	switch how {
	case "url":
		return redactURL(s)
	case "token":
		// Unleash tokens are project:environment.secret; legacy ones are
		// secret@environment. The scope helps an operator and is no secret.
		if i := strings.IndexByte(s, ':'); i >= 0 {
			if j := strings.IndexByte(s[i:], '.'); j >= 0 {
				return s[:i+j+1] + Redacted
			}
		}
		if i := strings.LastIndexByte(s, '@'); i > 0 {
			return Redacted + s[i:]
		}
	case "header":
		if name, _, ok := strings.Cut(s, ":"); ok {
			return name + ": " + Redacted
		}
	}
	return Redacted
}

// redactURL hides a URL's user information and the values of query
// parameters that look like credentials; a URL that does not parse is
// hidden whole.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		return Redacted
	}
	secretInfo := u.User != nil
	u.User = nil
	q := u.Query()
	for k := range q {
		lk := strings.ToLower(k)
		for _, w := range []string{"pass", "secret", "token", "key", "auth", "cred"} {
			if strings.Contains(lk, w) {
				q[k] = []string{"REDACTED"}
			}
		}
	}
	if u.RawQuery != "" {
		u.RawQuery = q.Encode()
	}
	out := u.String()
	if secretInfo {
		if scheme, rest, ok := strings.Cut(out, "://"); ok {
			out = scheme + "://" + Redacted + "@" + rest
		}
	}
	return strings.ReplaceAll(out, "REDACTED", Redacted)
}

// redactURLError drops the URL that url.Parse quotes in its errors.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "invalid"
}

// Redacted returns a deep copy of c with every secret replaced by
// "<redacted>" (a token keeps its project:environment scope, a URL its
// host): the view for logs, `brink config print` and any HTTP answer.
func (c *Config) Redacted() *Config {
	r := *c
	for _, f := range theSchema().fields {
		v := r.value(f)
		switch f.kind {
		case kindString:
			if f.secret != "" {
				v.SetString(redact(f.secret, v.String()))
			}
		case kindStrings, kindList:
			if v.IsNil() {
				continue
			}
			cp := reflect.AppendSlice(reflect.MakeSlice(v.Type(), 0, v.Len()), v)
			if f.secret != "" {
				for i := range cp.Len() {
					cp.Index(i).SetString(redact(f.secret, cp.Index(i).String()))
				}
			}
			v.Set(cp)
		}
	}
	return &r
}

// LogValue logs the keys that are not at their defaults, redacted, each
// with its origin: logging a Config never leaks a secret.
func (c *Config) LogValue() slog.Value {
	r := c.Redacted()
	var attrs []slog.Attr
	for _, f := range theSchema().fields {
		o := c.Origin(f.key)
		if o == "default" {
			continue
		}
		attrs = append(attrs, slog.String(f.key, r.text(f)+" ("+o+")"))
	}
	return slog.GroupValue(attrs...)
}

// text is f's value on one line, as the environment form writes it.
func (c *Config) text(f *field) string {
	v := c.value(f)
	switch f.kind {
	case kindStrings:
		return strings.Join(v.Interface().([]string), ",")
	case kindList:
		var items []string
		for i := range v.Len() {
			var kv []string
			for _, it := range f.item {
				if s := formatScalar(v.Index(i).FieldByIndex(it.index), it.kind); s != "" {
					kv = append(kv, it.key+": "+s)
				}
			}
			items = append(items, "{"+strings.Join(kv, ", ")+"}")
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return formatScalar(v, f.kind)
}
