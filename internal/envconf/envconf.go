// Package envconf reads typed settings from environment variables and
// collects every bad one, so a binary can refuse to start with one message
// that names each wrong variable.
package envconf

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Loader reads variables through Lookup (os.LookupEnv unless set). It
// records every variable it is asked for, with its kind and default
// (Reads): a binary's --help and the README's table are made of what its
// config reader actually asked, so they cannot list a variable it does not
// read or miss one it does.
type Loader struct {
	Lookup func(string) (string, bool)
	errs   []error
	reads  []Read
}

// New returns a Loader over the process environment.
func New() *Loader { return &Loader{Lookup: os.LookupEnv} }

// FromMap returns a Loader over env instead of the process environment.
func FromMap(env map[string]string) *Loader {
	return &Loader{Lookup: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
}

func (l *Loader) get(name string) (string, bool) {
	v, ok := l.Lookup(name)
	return v, ok && v != ""
}

// String returns the variable or def.
func (l *Loader) String(name, def string) string {
	l.record(name, KindString, def)
	if v, ok := l.get(name); ok {
		return v
	}
	return def
}

// Required returns the variable and records an error when it is unset.
func (l *Loader) Required(name string) string {
	l.record(name, KindRequired, "")
	v, ok := l.get(name)
	if !ok {
		l.errs = append(l.errs, fmt.Errorf("%s is required", name))
	}
	return v
}

// Int returns the variable as an integer or def.
func (l *Loader) Int(name string, def int) int {
	l.record(name, KindInt, strconv.Itoa(def))
	v, ok := l.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("%s=%q is not a whole number", name, v))
		return def
	}
	return n
}

// Bool returns the variable as a boolean or def.
func (l *Loader) Bool(name string, def bool) bool {
	l.record(name, KindBool, strconv.FormatBool(def))
	v, ok := l.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("%s=%q is not true or false", name, v))
		return def
	}
	return b
}

// Duration returns the variable as a Go duration ("10s", "1m30s") or def.
func (l *Loader) Duration(name string, def time.Duration) time.Duration {
	l.record(name, KindDuration, FormatDuration(def))
	v, ok := l.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		l.errs = append(l.errs, fmt.Errorf("%s=%q is not a duration such as 10s or 1m30s", name, v))
		return def
	}
	return d
}

// Check records an error about name when ok is false.
func (l *Loader) Check(ok bool, name, format string, args ...any) {
	if !ok {
		l.errs = append(l.errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
	}
}

// Err returns every problem found, or nil.
func (l *Loader) Err() error {
	if len(l.errs) == 0 {
		return nil
	}
	return fmt.Errorf("bad configuration: %w", errors.Join(l.errs...))
}
