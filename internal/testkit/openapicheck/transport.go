package openapicheck

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// Transport returns a RoundTripper that sends each request with base
// (http.DefaultTransport when nil) and validates the answer with Check,
// failing t (t.Errorf) for each answer the document does not describe.
// The answer is handed on unchanged, its body read and put back: tests
// read it as they would without the check. An event stream is checked by
// its status and headers and handed on unread; an answer to /monitoring is
// not checked (Excluded says why).
func (c *Checker) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, t: t, base: base}
}

// Client is an http.Client whose Transport is c.Transport(t, nil).
func (c *Checker) Client(t testing.TB) *http.Client {
	return &http.Client{Transport: c.Transport(t, nil)}
}

type transport struct {
	c    *Checker
	t    testing.TB
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if skip, _ := Excluded(req); skip {
		return resp, nil
	}
	var body []byte
	if !isStream(resp.Header) {
		if body, err = readBody(resp); err != nil {
			// A body cut short is the test's error, as it would be unchecked.
			return nil, fmt.Errorf("read the answer to %s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	if err := tr.c.Check(req, resp.StatusCode, resp.Header, body); err != nil {
		tr.t.Errorf("openapicheck: the answer does not match the OpenAPI document: %v", err)
	}
	return resp, nil
}

func decodeJSON(body []byte) (any, error) {
	var v any
	err := json.Unmarshal(body, &v)
	return v, err
}
