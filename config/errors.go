package config

import (
	"errors"
	"strings"
)

// Sentinel errors; every *Error wraps one of them.
var (
	// ErrUnknownKey: a key (YAML or BRINK_ variable) that Config lacks.
	ErrUnknownKey = errors.New("unknown key")
	// ErrType: a value that does not parse as the key's type.
	ErrType = errors.New("wrong type")
	// ErrMissing: a required value is absent.
	ErrMissing = errors.New("missing value")
	// ErrInvalid: a value that parses but is not allowed.
	ErrInvalid = errors.New("invalid value")
	// ErrSyntax: the file is not YAML Load can read.
	ErrSyntax = errors.New("invalid YAML")
)

// Error is one configuration problem: where it was given, which key, and
// what is wrong. Load returns every problem it finds, joined.
type Error struct {
	// Origin is where the value came from, as in Config.Origin:
	// "yaml:<file>:<line>", "env:<NAME>", "flag:--<name>" or "default".
	Origin string
	// Key is the dotted key, with list indexes: "tls.routes[1].service".
	Key string
	// Msg says what is wrong.
	Msg string
	// Kind is the sentinel the error matches with errors.Is.
	Kind error
}

// Error reads "<file>:<line>: <key>: <msg>" for YAML and
// "env:<NAME>: <key>: <msg>" otherwise.
func (e *Error) Error() string {
	var b strings.Builder
	if o := strings.TrimPrefix(e.Origin, "yaml:"); o != "" {
		b.WriteString(o)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is maps e onto its sentinel.
func (e *Error) Is(target error) bool { return target == e.Kind }

// errorList collects problems in the order they were found.
type errorList []error

func (l *errorList) add(origin, key string, kind error, msg string) {
	*l = append(*l, &Error{Origin: origin, Key: key, Msg: msg, Kind: kind})
}

func (l errorList) err() error { return errors.Join(l...) }
