package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
)

// secretWords mark keys whose values Asynqmon must not show.
var secretWords = []string{"password", "secret", "token", "authorization", "api_key", "apikey", "credential"}

// RedactJSON shows a payload with secret-looking values hidden and phone
// numbers cut to their last four digits (MaskPhoneNumbers).
func RedactJSON(p []byte) string { return redactor{}.json(p) }

// redactor hides what Asynqmon must not show. Secrets are always hidden;
// phone numbers unless showNumbers (DIALQ_MONITORING_MASK_NUMBERS=false).
type redactor struct{ showNumbers bool }

func (r redactor) json(p []byte) string {
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		return fmt.Sprintf("<%d bytes, not JSON>", len(p))
	}
	b, _ := json.Marshal(r.value("", v))
	return string(b)
}

func (r redactor) value(key string, v any) any {
	lk := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(lk, w) {
			return "[redacted]"
		}
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = r.value(k, x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = r.value(key, x)
		}
		return v
	case string:
		if r.showNumbers {
			return v
		}
		if strings.Contains(lk, "number") && len(v) > 4 {
			return maskDigits(v)
		}
		// A number inside another value: an Exotel call's room name
		// (exotel-+918044319240-…), a SIP URI.
		return MaskPhoneNumbers(v)
	default:
		return v
	}
}

// text masks the phone numbers in free text, such as a task's last error.
func (r redactor) text(s string) string {
	if r.showNumbers {
		return s
	}
	return MaskPhoneNumbers(s)
}

// MaskPhoneNumbers cuts every phone number in s to its last four digits:
// "dial +15550200000 through trunk ST_x" becomes "dial ********0000 through
// trunk ST_x". A phone number is a + and 7 to 15 digits (E.164, as dialq
// stores and dials them) or a run of 8 to 15 digits that starts with the
// trunk prefix 0 and stands alone (the national form Exotel is dialled in:
// sip:08044319240@…). Digits inside an id (a UUID's group, ST_0123456789)
// are left alone: a bare run touching a letter, '_', '-' or '.' is not a
// number, and neither is one that starts with 1-9 (a delivery id, a port).
func MaskPhoneNumbers(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		start, plus := i, s[i] == '+'
		if plus {
			i++
		} else if !isDigit(s[i]) || (start > 0 && idByte(s[start-1])) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		n := j - i
		switch {
		case plus && n >= 7 && n <= 15 && (start == 0 || !isDigit(s[start-1])) && (j == len(s) || !isDigit(s[j])):
		case !plus && s[start] == '0' && n >= 8 && n <= 15 && (j == len(s) || !idByte(s[j])):
		default:
			i = j
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(maskDigits(s[start:j]))
		last, i = j, j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// maskDigits keeps the last four characters of a number.
func maskDigits(v string) string {
	return strings.Repeat("*", len(v)-4) + v[len(v)-4:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// idByte reports whether c may be part of an id around a run of digits.
func idByte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("_-.", c) >= 0
}
