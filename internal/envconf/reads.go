package envconf

import (
	"strings"
	"time"
)

// Kind is what a variable holds.
type Kind string

// The kinds of variable a Loader reads.
const (
	KindString   Kind = "string"
	KindRequired Kind = "required" // a string with no default
	KindInt      Kind = "int"
	KindBool     Kind = "bool"
	KindDuration Kind = "duration"
)

// Read is one variable a Loader was asked for.
type Read struct {
	Name string
	Kind Kind
	// Default is the default the reader passed, as a user would write it
	// ("10s", "true", "127.0.0.1:6379"); empty for a required variable.
	Default string
}

// Reads returns every variable the loader was asked for, in the order first
// asked; a variable asked twice is listed once, with its first default.
func (l *Loader) Reads() []Read { return append([]Read(nil), l.reads...) }

func (l *Loader) record(name string, k Kind, def string) {
	for _, r := range l.reads {
		if r.Name == name {
			return
		}
	}
	l.reads = append(l.reads, Read{Name: name, Kind: k, Default: def})
}

// FormatDuration writes d as a user would: "1m" rather than Go's "1m0s",
// "1h" rather than "1h0m0s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
