package dialq_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

func TestRenderTemplates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		metadata map[string]any
		tpl      []string
		want     []string
	}{
		{"contract example",
			map[string]any{"name": "John Doe", "company": "Acme Corp", "agent_name": "Sarah"},
			[]string{"Hello {{name}}, you're calling from {{company}}.", "Hi {{name}}, this is {{agent_name}} speaking."},
			[]string{"Hello John Doe, you're calling from Acme Corp.", "Hi John Doe, this is Sarah speaking."}},
		{"spaces inside braces", map[string]any{"name": "Ann"}, []string{"Hi {{ name }}!"}, []string{"Hi Ann!"}},
		{"default used when absent", nil, []string{"Hi {{name|there}}, {{ co | Acme Corp }}."}, []string{"Hi there, Acme Corp."}},
		{"value beats default", map[string]any{"name": "Ann"}, []string{"Hi {{name|there}}"}, []string{"Hi Ann"}},
		{"empty default", nil, []string{"Hi{{title|}}."}, []string{"Hi."}},
		{"numbers and booleans", map[string]any{"n": json.Number("42.50"), "vip": true}, []string{"{{n}} {{vip}}"}, []string{"42.50 true"}},
		{"unused metadata of any type", map[string]any{"extra": map[string]any{"a": 1}}, []string{"plain"}, []string{"plain"}},
		{"no placeholders", nil, []string{"", "x"}, []string{"", "x"}},
		{"value is not re-expanded", map[string]any{"a": "{{b}}"}, []string{"{{a}}"}, []string{"{{b}}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := dialq.RenderTemplates(tt.metadata, tt.tpl...)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRenderTemplatesListsMissingKeys(t *testing.T) {
	t.Parallel()
	_, err := dialq.RenderTemplates(map[string]any{"name": "Ann"},
		"Hello {{name}} from {{company}}", "This is {{agent_name}} of {{company}}")
	require.Equal(t, dialq.EINVALID, dialq.ErrorCode(err))
	f := dialq.ErrorFields(err)
	require.Len(t, f, 1)
	require.Equal(t, "metadata", f[0].Field)
	require.Contains(t, f[0].Message, "company, agent_name")
}

func TestRenderTemplatesRefusesNonTextValues(t *testing.T) {
	t.Parallel()
	_, err := dialq.RenderTemplates(map[string]any{"name": map[string]any{"first": "Ann"}, "tags": []any{"a"}, "z": nil},
		"{{name}} {{name}} {{tags}} {{z}}")
	f := dialq.ErrorFields(err)
	require.Len(t, f, 3)
	require.Equal(t, "metadata.name", f[0].Field)
	require.Contains(t, f[0].Message, "must be a string, number or boolean")
	require.Equal(t, "metadata.tags", f[1].Field)
	require.Equal(t, "metadata.z", f[2].Field)
}
