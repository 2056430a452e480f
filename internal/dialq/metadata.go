package dialq

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// checkMetadataValue returns the first reason v, the value of metadata
// field path, cannot be stored and read back as it was sent, with the path
// of the part at fault (metadata.a.b[2]), or "" if it can.
//
// A call's metadata goes into Postgres as JSON and the worker decodes it
// into Go values: numbers become float64. A number no float64 holds
// (1e400, 12345678901234567890) would be stored, then either fail to decode
// for good or reach the agent as another number; it is refused instead, as
// is text Postgres cannot store as sent (NUL, invalid UTF-8), in values and
// in keys.
func checkMetadataValue(path string, v any) (string, string) {
	switch v := v.(type) {
	case string:
		if msg := checkText(v); msg != "" {
			return path, msg
		}
	case json.Number:
		if msg := checkNumber(string(v)); msg != "" {
			return path, msg
		}
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return path, "must be a finite number"
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if msg := checkText(k); msg != "" {
				return path + "." + k, "key " + msg
			}
			if p, msg := checkMetadataValue(path+"."+k, v[k]); msg != "" {
				return p, msg
			}
		}
	case []any:
		for i, x := range v {
			if p, msg := checkMetadataValue(fmt.Sprintf("%s[%d]", path, i), x); msg != "" {
				return p, msg
			}
		}
	}
	return "", ""
}

// checkText returns why s cannot be stored as JSON text in Postgres and
// read back as sent, or "": jsonb refuses the NUL character, and text that
// is not UTF-8 would be changed on the way.
func checkText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.ContainsRune(s, 0):
		return "must not contain the NUL character (\\u0000)"
	}
	return ""
}

// checkNumber returns why the JSON number n does not survive the trip
// through a float64, or "".
func checkNumber(n string) string {
	const asString = "; send it as a string to keep it as written"
	f, err := strconv.ParseFloat(n, 64)
	if err != nil {
		return "is a number out of the range of a 64-bit float" + asString
	}
	back := strconv.FormatFloat(f, 'g', -1, 64)
	if !sameDecimal(n, back) {
		return fmt.Sprintf("is a number a 64-bit float cannot hold exactly (it would be read back as %s)%s", back, asString)
	}
	return ""
}

// sameDecimal reports whether the decimal numbers a and b (JSON number
// syntax, as strconv writes and JSON allows) have the same value, without
// arithmetic: both are brought to their significant digits and exponent.
func sameDecimal(a, b string) bool {
	na, oka := normDecimal(a)
	nb, okb := normDecimal(b)
	return oka && okb && na == nb
}

// normDecimal writes s as "-digits e exp" for the value 0.digits × 10^exp,
// with no leading or trailing zero digit; zero is "0" whatever its sign.
func normDecimal(s string) (string, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	exp := 0
	if hasExp {
		e, err := strconv.Atoi(expPart)
		if err != nil {
			return "", false
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	exp += len(intPart)
	trimmed := strings.TrimLeft(digits, "0")
	exp -= len(digits) - len(trimmed)
	trimmed = strings.TrimRight(trimmed, "0")
	if trimmed == "" {
		return "0", true
	}
	sign := ""
	if neg {
		sign = "-"
	}
	return fmt.Sprintf("%s%se%d", sign, trimmed, exp), true
}
