package dialq_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// TestValidateTakesOnlyNumbersTheWorkerReadsBackExactly: a metadata number
// is stored as sent and decoded by the worker into a float64; one that
// float64 does not hold is refused naming the field, at any depth.
func TestValidateTakesOnlyNumbersTheWorkerReadsBackExactly(t *testing.T) {
	t.Parallel()
	n := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name  string
		md    map[string]any
		field string // "" when accepted
		msg   string
	}{
		{"integer", map[string]any{"n": n("42")}, "", ""},
		{"fraction", map[string]any{"n": n("0.1")}, "", ""},
		{"exponent", map[string]any{"n": n("1e2")}, "", ""},
		{"trailing zeros", map[string]any{"n": n("1.50")}, "", ""},
		{"negative zero", map[string]any{"n": n("-0")}, "", ""},
		{"largest float", map[string]any{"n": n("1.7976931348623157e308")}, "", ""},
		{"smallest float", map[string]any{"n": n("5e-324")}, "", ""},
		{"2^53", map[string]any{"n": n("9007199254740992")}, "", ""},
		{"float64 value", map[string]any{"n": 2.5}, "", ""},
		{"overflow", map[string]any{"zz": n("1e400")}, "metadata.zz", "out of the range"},
		{"negative overflow", map[string]any{"zz": n("-1e400")}, "metadata.zz", "out of the range"},
		{"underflow", map[string]any{"zz": n("1e-400")}, "metadata.zz", "read back as 0"},
		{"too many digits", map[string]any{"id": n("12345678901234567890")}, "metadata.id", "read back as 1.2345678901234567e+19"},
		{"2^53+1", map[string]any{"id": n("9007199254740993")}, "metadata.id", "cannot hold exactly"},
		{"nested", map[string]any{"a": map[string]any{"b": []any{n("1"), n("1e400")}}}, "metadata.a.b[1]", "out of the range"},
		{"NaN", map[string]any{"x": math.NaN()}, "metadata.x", "finite"},
		{"Inf", map[string]any{"x": math.Inf(1)}, "metadata.x", "finite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validRequest()
			r.Metadata = tt.md
			err := r.Validate(0)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			fields := dialq.ErrorFields(err)
			require.Len(t, fields, 1, "%v", err)
			require.Equal(t, tt.field, fields[0].Field)
			require.Contains(t, fields[0].Message, tt.msg)
			if _, isNumber := tt.md[fields[0].Field[len("metadata."):]].(json.Number); isNumber {
				require.Contains(t, fields[0].Message, "send it as a string")
			}
		})
	}
}

// TestValidateRefusesTextPostgresCannotStore: NUL (jsonb refuses it) and
// invalid UTF-8, in values and keys at any depth, name the field.
func TestValidateRefusesTextPostgresCannotStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		md    map[string]any
		field string
		msg   string
	}{
		{"NUL in value", map[string]any{"name": "a\x00b"}, "metadata.name", "NUL"},
		{"invalid UTF-8 in value", map[string]any{"name": "a\xffb"}, "metadata.name", "UTF-8"},
		{"NUL in nested key", map[string]any{"deep": map[string]any{"a\x00": "x"}}, "metadata.deep.a\x00", "key must not contain the NUL"},
		{"invalid UTF-8 in nested key", map[string]any{"deep": map[string]any{"a\xff": "x"}}, "metadata.deep.a\xff", "key must be valid UTF-8"},
		{"NUL in a list", map[string]any{"l": []any{"ok", "\x00"}}, "metadata.l[1]", "NUL"},
		{"NUL in top-level key", map[string]any{"a\x00": "x"}, "metadata.a\x00", "key must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validRequest()
			r.Metadata = tt.md
			fields := dialq.ErrorFields(r.Validate(0))
			require.Len(t, fields, 1)
			require.Equal(t, tt.field, fields[0].Field)
			require.Contains(t, fields[0].Message, tt.msg)
		})
	}
	r := validRequest()
	r.Metadata = map[string]any{"name": "Zoë 😀", "deep": map[string]any{"ключ": "значение"}}
	require.NoError(t, r.Validate(0), "any valid Unicode but NUL is fine")
}
