package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dialq/dialq/internal/dialq"
)

// MaxBodyBytes bounds a request body; a larger one is answered 413
// (limitBody).
const MaxBodyBytes = 64 << 10

// waitPattern is a plain decimal number: digits, then an optional fraction.
// strconv.ParseFloat alone also takes NaN, Inf, 1_0, 0x1p-20 and 1e1.
var waitPattern = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,9})?$`)

// parseWait reads the ?wait= value: a plain decimal number of seconds from 0
// to max. Returns EINVALID naming wait otherwise.
func parseWait(q string, max time.Duration) (time.Duration, error) {
	secs, err := strconv.ParseFloat(q, 64)
	if !waitPattern.MatchString(q) || err != nil || secs > max.Seconds() {
		return 0, dialq.InvalidField("wait", "must be a plain decimal number of seconds from 0 to %g, such as 10 or 2.5", max.Seconds())
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// readJSONBody reads a JSON request body, refusing a wrong Content-Type, an
// empty or oversized body, and duplicate keys or text that is not valid
// Unicode at any depth.
func readJSONBody(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return nil, dialq.InvalidField("Content-Type", "header must be application/json, got %q", ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, errTooLarge
		}
		return nil, dialq.InvalidField("body", "could not be read: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, dialq.InvalidField("body", "is empty; send a JSON object")
	}
	if err := checkJSONText(body); err != nil {
		return nil, err
	}
	return body, nil
}

// decodeOutbound decodes the body of POST /call/outbound strictly. It
// returns the request and the size in bytes of its metadata object.
func decodeOutbound(body []byte) (*dialq.OutboundRequest, int, error) {
	var raw struct {
		AssistantID *json.RawMessage `json:"assistant_id"`
		TrunkID     *json.RawMessage `json:"trunk_id"`
		ToNumber    *json.RawMessage `json:"to_number"`
		CallService *json.RawMessage `json:"call_service"`
		Metadata    *json.RawMessage `json:"metadata"`

		RingTimeout  *json.RawMessage `json:"ring_timeout"`
		MaxDuration  *json.RawMessage `json:"max_duration"`
		CallerID     *json.RawMessage `json:"caller_id"`
		DisplayName  *json.RawMessage `json:"display_name"`
		SIPHeaders   *json.RawMessage `json:"sip_headers"`
		DTMF         *json.RawMessage `json:"dtmf"`
		PlayRingtone *json.RawMessage `json:"play_ringtone"`
		Krisp        *json.RawMessage `json:"krisp"`
		WaitUntil    *json.RawMessage `json:"wait_until"`
	}
	if err := decodeStrict(body, &raw, outboundFields); err != nil {
		return nil, 0, err
	}

	req := &dialq.OutboundRequest{}
	var fields []dialq.FieldError
	// decodeAs decodes a field given (not absent, not null) into dst, or
	// names it as not want; an absent required field is Validate's to report.
	given := func(src *json.RawMessage) bool { return src != nil && string(*src) != "null" }
	decodeAs := func(name, want string, src *json.RawMessage, dst any) bool {
		if !given(src) {
			return false
		}
		if err := json.Unmarshal(*src, dst); err != nil {
			fields = append(fields, dialq.FieldError{Field: name, Message: "must be " + want})
			return false
		}
		return true
	}
	str := func(name string, src *json.RawMessage, dst *string) { decodeAs(name, "a string", src, dst) }
	str("assistant_id", raw.AssistantID, &req.AssistantID)
	str("trunk_id", raw.TrunkID, &req.TrunkID)
	str("to_number", raw.ToNumber, &req.ToNumber)
	str("call_service", raw.CallService, &req.CallService)

	num := func(name string, src *json.RawMessage) *float64 {
		var v float64
		if decodeAs(name, "a number of seconds", src, &v) {
			return &v
		}
		return nil
	}
	flag := func(name string, src *json.RawMessage) *bool {
		var v bool
		if decodeAs(name, "true or false", src, &v) {
			return &v
		}
		return nil
	}
	o := &req.DialOptions
	o.RingTimeout = num("ring_timeout", raw.RingTimeout)
	o.MaxDuration = num("max_duration", raw.MaxDuration)
	str("caller_id", raw.CallerID, &o.CallerID)
	var name string
	if decodeAs("display_name", "a string", raw.DisplayName, &name) {
		o.DisplayName = &name
	}
	if given(raw.SIPHeaders) {
		var headers map[string]json.RawMessage
		if err := json.Unmarshal(*raw.SIPHeaders, &headers); err != nil || headers == nil {
			fields = append(fields, dialq.FieldError{Field: "sip_headers", Message: "must be an object of header names to string values"})
		} else {
			o.SIPHeaders = make(map[string]string, len(headers))
			for _, k := range slices.Sorted(maps.Keys(headers)) {
				v := headers[k]
				var text string
				if decodeAs("sip_headers."+k, "a string", &v, &text) {
					o.SIPHeaders[k] = text
				} else if !given(&v) {
					fields = append(fields, dialq.FieldError{Field: "sip_headers." + k, Message: "must be a string"})
				}
			}
		}
	}
	str("dtmf", raw.DTMF, &o.DTMF)
	o.PlayRingtone = flag("play_ringtone", raw.PlayRingtone)
	o.Krisp = flag("krisp", raw.Krisp)
	var wait string
	str("wait_until", raw.WaitUntil, &wait)
	o.WaitUntil = dialq.WaitUntil(wait)

	mdBytes := 0
	if raw.Metadata != nil && string(*raw.Metadata) != "null" {
		mdBytes = len(*raw.Metadata)
		md := json.NewDecoder(bytes.NewReader(*raw.Metadata))
		md.UseNumber()
		if err := md.Decode(&req.Metadata); err != nil || req.Metadata == nil {
			fields = append(fields, dialq.FieldError{Field: "metadata", Message: "must be a JSON object"})
		}
	}
	if len(fields) > 0 {
		return nil, 0, &dialq.Error{Code: dialq.EINVALID, Message: "Invalid request: " + joinFields(fields) + ".", Fields: fields}
	}
	return req, mdBytes, nil
}

func joinFields(fields []dialq.FieldError) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + " " + f.Message
	}
	return strings.Join(parts, "; ")
}

// outboundFields are the fields POST /call/outbound takes.
const outboundFields = "assistant_id, trunk_id, to_number, call_service, metadata, " +
	"ring_timeout, max_duration, caller_id, display_name, sip_headers, dtmf, play_ringtone, krisp, wait_until"

// jsonError turns a decoding error into an EINVALID error naming the field.
func jsonError(err error) error {
	if ute, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if ute.Field == "" {
			return dialq.InvalidField("body", "must be a JSON object")
		}
		return dialq.InvalidField(ute.Field, "has the wrong type: %s", ute.Value)
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return dialq.InvalidField("body", "is not valid JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return dialq.InvalidField("body", "is not valid JSON: it ends too early")
	}
	return dialq.InvalidField("body", "is not valid JSON: %v", err)
}

// checkJSONText rejects, at any depth, an object that names a key twice
// (encoding/json would silently keep the last) and a key or string that is
// not valid Unicode: invalid UTF-8 or a lone UTF-16 surrogate escape
// (\ud800), which encoding/json would silently turn into U+FFFD.
func checkJSONText(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return (&jsonWalker{dec: dec, body: body}).walk("")
}

// jsonWalker reads a body token by token and keeps, for each token, the
// bytes it was read from.
type jsonWalker struct {
	dec  *json.Decoder
	body []byte
}

// token returns the next token and its raw bytes (with the separators and
// spaces before it).
func (w *jsonWalker) token() (json.Token, []byte, error) {
	start := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return nil, nil, jsonError(err)
	}
	return tok, w.body[start:w.dec.InputOffset()], nil
}

func (w *jsonWalker) walk(path string) error {
	tok, raw, err := w.token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]struct{}{}
		for w.dec.More() {
			kt, raw, err := w.token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			if msg := unicodeProblem(raw); msg != "" {
				return dialq.InvalidField(joinPath(path, key), "key %s", msg)
			}
			if _, dup := seen[key]; dup {
				return dialq.InvalidField(joinPath(path, key), "appears more than once in the same object")
			}
			seen[key] = struct{}{}
			if err := w.walk(joinPath(path, key)); err != nil {
				return err
			}
		}
	case json.Delim('['):
		for i := 0; w.dec.More(); i++ {
			if err := w.walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		if _, ok := tok.(string); ok {
			if msg := unicodeProblem(raw); msg != "" {
				return dialq.InvalidField(orBody(path), "%s", msg)
			}
		}
		return nil
	}
	if _, _, err := w.token(); err != nil { // the closing delimiter
		return err
	}
	return nil
}

// unicodeProblem says why the raw JSON string literal in raw is not valid
// Unicode text, or "". raw has passed the decoder, so its escapes are well
// formed.
func unicodeProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return "must be valid UTF-8"
	}
	lit := raw[bytes.IndexByte(raw, '"')+1:]
	for i := 0; i+1 < len(lit); i++ {
		if lit[i] != '\\' {
			continue
		}
		if lit[i+1] != 'u' || i+6 > len(lit) {
			i++ // a one-character escape
			continue
		}
		r, _ := strconv.ParseUint(string(lit[i+2:i+6]), 16, 16)
		i += 5
		if r < 0xD800 || r > 0xDFFF {
			continue
		}
		if r <= 0xDBFF && i+7 <= len(lit) && lit[i+1] == '\\' && lit[i+2] == 'u' {
			lo, _ := strconv.ParseUint(string(lit[i+3:i+7]), 16, 16)
			if lo >= 0xDC00 && lo <= 0xDFFF {
				i += 6 // a surrogate pair: one character
				continue
			}
		}
		return fmt.Sprintf("must be valid Unicode: \\u%04x is half of a UTF-16 surrogate pair", r)
	}
	return ""
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
