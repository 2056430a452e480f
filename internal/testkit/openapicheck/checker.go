// Package openapicheck holds the API to its OpenAPI document in tests: every
// answer a test receives is validated against the operation it answers, so
// an undocumented status, header value or field fails the test that saw it.
//
// The document is the one the API serves (httpapi.OpenAPIDocument); the
// validation is kin-openapi's (openapi3filter.ValidateResponse over a
// gorilla/mux router of the document), which validates OpenAPI 3.1 bodies
// with a JSON Schema 2020-12 validator.
package openapicheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Checker validates HTTP answers against one OpenAPI document.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
	// unrouted is the schema of the answer to a request no operation
	// matches: the API's JSON 404 or 405 (#/components/schemas/Error).
	unrouted *openapi3.SchemaRef
}

// New loads document (YAML or JSON) and checks that it is a valid OpenAPI
// document. Returns an error naming what is wrong with it.
func New(document []byte) (*Checker, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	// format is an annotation unless a validator is defined for it; dialq's
	// ids are UUIDs (v7 among them, hence RFC 9562) and its URLs absolute.
	doc.SetStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
	doc.SetStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
		if u, err := url.Parse(s); err != nil || !u.IsAbs() {
			return fmt.Errorf("not an absolute URI: %q", s)
		}
		return nil
	}))
	// The document's servers name the address `make run` listens on; a
	// test's server listens elsewhere. Route on the path alone.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	c := &Checker{doc: doc, router: router}
	if doc.Components != nil {
		c.unrouted = doc.Components.Schemas["Error"]
	}
	if c.unrouted == nil {
		return nil, errors.New("the OpenAPI document has no #/components/schemas/Error for answers to unknown paths")
	}
	return c, nil
}

// Excluded reports whether the answer to req is not validated, and why.
//
//   - /monitoring is Asynqmon's own UI and API, mounted as it ships: the
//     document describes dialq's API, not Asynqmon's.
func Excluded(req *http.Request) (bool, string) {
	if p := req.URL.Path; p == "/monitoring" || strings.HasPrefix(p, "/monitoring/") {
		return true, "Asynqmon (/monitoring) is not dialq's API"
	}
	return false, ""
}

// isStream reports whether an answer is an event stream, whose body a
// test reads as it comes (for an hour, or until the call ends): reading it
// here would block the test. Its status and media type are still checked.
func isStream(header http.Header) bool {
	mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	return mt == "text/event-stream"
}

// Check validates one answer to req: its status must be documented for the
// operation req asks for, its headers and body must match that response.
// An answer to a request no operation matches must be the API's JSON 404
// or 405. body is ignored for an event stream.
func (c *Checker) Check(req *http.Request, status int, header http.Header, body []byte) error {
	what := fmt.Sprintf("%s %s answered %d", req.Method, req.URL.RequestURI(), status)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if !errors.Is(err, routers.ErrPathNotFound) && !errors.Is(err, routers.ErrMethodNotAllowed) {
			return fmt.Errorf("%s: find its operation: %w", what, err)
		}
		return c.checkUnrouted(what, status, header, body)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: c.doc.GetSchemaValidationOptions()},
	}
	stream := isStream(header)
	if stream {
		input.Options.ExcludeResponseBody = true
	} else {
		input.SetBodyBytes(body)
	}
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return fmt.Errorf("%s (operation %s): %w\nbody: %s", what, route.Operation.OperationID, err, excerpt(body))
	}
	response := route.Operation.Responses.Status(status)
	if response == nil {
		response = route.Operation.Responses.Default()
	}
	content := response.Value.Content
	if stream && content.Get(header.Get("Content-Type")) == nil {
		return fmt.Errorf("%s (operation %s): the response documents no %s", what, route.Operation.OperationID, header.Get("Content-Type"))
	}
	// openapi3filter lets any body through a response that documents no
	// content; dialq's document says when an answer has none.
	if len(content) == 0 && len(body) > 0 {
		return fmt.Errorf("%s (operation %s): the response documents no body, got %s", what, route.Operation.OperationID, excerpt(body))
	}
	return nil
}

// checkUnrouted validates the answer to a request for a path or method no
// operation has: the API answers those 404 and 405 in its Error shape.
func (c *Checker) checkUnrouted(what string, status int, header http.Header, body []byte) error {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return fmt.Errorf("%s: no operation of the document matches the request, so only the JSON 404 or 405 may answer it", what)
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("%s: no operation matches; the answer must be the JSON Error, got Content-Type %q", what, header.Get("Content-Type"))
	}
	value, err := decodeJSON(body)
	if err != nil {
		return fmt.Errorf("%s: no operation matches; the body is not JSON: %w\nbody: %s", what, err, excerpt(body))
	}
	opts := append([]openapi3.SchemaValidationOption{openapi3.MultiErrors(), openapi3.VisitAsResponse()}, c.doc.GetSchemaValidationOptions()...)
	if c.doc.IsOpenAPI31OrLater() {
		opts = append(opts, openapi3.EnableJSONSchema2020())
	}
	if err := c.unrouted.Value.VisitJSON(value, opts...); err != nil {
		return fmt.Errorf("%s: no operation matches; the body is not the document's Error: %w\nbody: %s", what, err, excerpt(body))
	}
	return nil
}

// excerpt is body as a test failure shows it.
func excerpt(body []byte) string {
	const most = 2000
	if len(body) > most {
		return string(body[:most]) + "... (" + strconv.Itoa(len(body)) + " bytes)"
	}
	return string(body)
}

// readBody reads a whole answer and leaves resp.Body readable again.
func readBody(resp *http.Response) ([]byte, error) {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return body, err
}
