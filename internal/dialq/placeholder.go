package dialq

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// placeholderPattern matches {{name}} and {{name|default}}, with optional
// spaces inside the braces.
var placeholderPattern = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.-]+)\s*(?:\|([^}]*))?\}\}`)

// RenderTemplates fills the {{placeholders}} of each template from metadata.
// A placeholder with a default ({{name|there}}) uses it when the key is
// absent. It returns an EINVALID error naming every missing key, and every key
// whose value cannot be text (objects, arrays, null).
func RenderTemplates(metadata map[string]any, templates ...string) ([]string, error) {
	var missing []string
	var fields []FieldError
	out := make([]string, len(templates))
	for i, tpl := range templates {
		out[i] = placeholderPattern.ReplaceAllStringFunc(tpl, func(m string) string {
			sub := placeholderPattern.FindStringSubmatch(m)
			key, hasDefault := sub[1], strings.Contains(m, "|")
			v, ok := metadata[key]
			if !ok {
				if hasDefault {
					return strings.TrimSpace(sub[2])
				}
				if !slices.Contains(missing, key) {
					missing = append(missing, key)
				}
				return m
			}
			text, ok := placeholderText(v)
			if !ok && !slices.ContainsFunc(fields, func(f FieldError) bool { return f.Field == "metadata."+key }) {
				fields = append(fields, FieldError{
					Field:   "metadata." + key,
					Message: "must be a string, number or boolean to fill {{" + key + "}}",
				})
			}
			return text
		})
	}
	if len(missing) > 0 {
		fields = append([]FieldError{{
			Field:   "metadata",
			Message: "is missing keys used by the assistant's prompt or start instruction: " + strings.Join(missing, ", "),
		}}, fields...)
	}
	if len(fields) > 0 {
		return nil, &Error{Code: EINVALID, Message: invalidMessage(fields), Fields: fields}
	}
	return out, nil
}

func placeholderText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	default:
		return "", false
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
