package httpapi

import _ "embed"

// openAPISpec is the OpenAPI description of this API, served at /openapi.yaml.
//
//go:embed openapi.yaml
var openAPISpec []byte
