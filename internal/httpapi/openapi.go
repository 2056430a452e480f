package httpapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// openAPISpec is the OpenAPI 3.1 description of this API, served at
// /openapi.yaml as written and at /openapi.json as openAPIJSON.
//
//go:embed openapi.yaml
var openAPISpec []byte

// openAPIJSON is openAPISpec as JSON, converted once at start.
var openAPIJSON = mustYAMLToJSON(openAPISpec)

// OpenAPIDocument returns the OpenAPI description the API serves at
// /openapi.yaml: what the tests validate every answer against
// (internal/testkit/openapicheck).
func OpenAPIDocument() []byte { return bytes.Clone(openAPISpec) }

func mustYAMLToJSON(doc []byte) []byte {
	b, err := yamlToJSON(doc)
	if err != nil {
		panic("internal/httpapi/openapi.yaml: " + err.Error())
	}
	return b
}

// yamlToJSON converts a YAML document of JSON's data model (string keys,
// no anchors) to JSON, keeping the order of its keys and every scalar as
// written: a quoted '200' stays a string, an unquoted date a string too.
func yamlToJSON(doc []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil, fmt.Errorf("want one YAML document")
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, root.Content[0]); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a key that is not a scalar", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k.Value)
			buf.WriteByte(':')
			if err := writeJSON(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, v := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			buf.WriteString("null")
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			buf.WriteString(strconv.FormatBool(b))
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			buf.WriteString(strconv.FormatInt(i, 10))
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			b, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			buf.Write(b)
		default: // !!str, !!timestamp, !!binary: as written
			writeString(buf, n.Value)
		}
	default:
		return fmt.Errorf("line %d: an alias or a node JSON does not have", n.Line)
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always encodes
	buf.Write(b)
}
