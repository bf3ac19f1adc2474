package config

import (
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// WriteYAML writes the configuration as YAML, secrets redacted, each key
// followed by a comment that says where its value came from:
//
//	server:
//	  port: 443 # from env:PORT
//
// The output is itself a valid configuration file.
func (c *Config) WriteYAML(w io.Writer) error {
	return c.Redacted().writeYAML(w, c)
}

// writeYAML writes c's values with the origins of src.
func (c *Config) writeYAML(w io.Writer, src *Config) error {
	root := &yaml.Node{Kind: yaml.MappingNode}
	sections := map[string]*yaml.Node{"": root}
	var mappingFor func(path string) *yaml.Node
	mappingFor = func(path string) *yaml.Node {
		if m := sections[path]; m != nil {
			return m
		}
		parent, name := "", path
		if i := strings.LastIndexByte(path, '.'); i >= 0 {
			parent, name = path[:i], path[i+1:]
		}
		m := &yaml.Node{Kind: yaml.MappingNode}
		p := mappingFor(parent)
		p.Content = append(p.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, m)
		sections[path] = m
		return m
	}
	for _, f := range theSchema().fields {
		parent, name := "", f.key
		if i := strings.LastIndexByte(f.key, '.'); i >= 0 {
			parent, name = f.key[:i], f.key[i+1:]
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Value: name}
		v := c.node(f)
		comment := "from " + src.Origin(f.key)
		if strings.HasPrefix(src.Origin(f.key), "implied") {
			comment = src.Origin(f.key)
		}
		if v.Kind == yaml.SequenceNode && len(v.Content) > 0 {
			k.LineComment = comment
		} else {
			v.LineComment = comment
		}
		m := mappingFor(parent)
		m.Content = append(m.Content, k, v)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return err
	}
	return enc.Close()
}

// node is f's value as a YAML node.
func (c *Config) node(f *field) *yaml.Node {
	v := c.value(f)
	switch f.kind {
	case kindStrings:
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, s := range v.Interface().([]string) {
			seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s})
		}
		if len(seq.Content) == 0 {
			seq.Style = yaml.FlowStyle
		}
		return seq
	case kindList:
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range v.Len() {
			m := &yaml.Node{Kind: yaml.MappingNode}
			for _, it := range f.item {
				s := formatScalar(v.Index(i).FieldByIndex(it.index), it.kind)
				if s == "" {
					continue
				}
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: it.key}, scalarNode(it.kind, s))
			}
			if len(m.Content) == 0 {
				m.Style = yaml.FlowStyle
			}
			seq.Content = append(seq.Content, m)
		}
		if len(seq.Content) == 0 {
			seq.Style = yaml.FlowStyle
		}
		return seq
	}
	return scalarNode(f.kind, formatScalar(v, f.kind))
}

func scalarNode(k kind, s string) *yaml.Node {
	tag := "!!str"
	switch k {
	case kindBool:
		tag = "!!bool"
	case kindInt:
		tag = "!!int"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s}
}
