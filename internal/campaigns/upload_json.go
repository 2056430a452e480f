package campaigns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// campaignFields are the fields of a campaign's JSON, besides contacts.
var campaignFields = []string{"name", "assistant_id", "trunk_id", "call_service", "settings", "dry_run", "skip_invalid"}

// contactFields are the fields of one JSON contact.
var contactFields = []string{"to_number", "metadata", "timezone"}

// CreateFromJSON creates a campaign from a JSON body read as it streams:
// the campaign's fields and a contacts array, in any order, the array read
// one element at a time. opts are the query string's; the body's dry_run
// and skip_invalid, when true, add to them. Returns what Finish returns,
// EINVALID naming body for text that is not one JSON object, and the
// reader's own error (a body over its limit) as it is.
func (s *Service) CreateFromJSON(ctx context.Context, tenant uuid.UUID, body io.Reader, opts UploadOptions) (*Created, error) {
	u, err := s.BeginUpload(ctx, tenant, opts)
	if err != nil {
		return nil, err
	}
	defer u.Close()
	dec := json.NewDecoder(body)
	dec.UseNumber()
	if err := expectDelim(dec, '{', "must be a JSON object"); err != nil {
		return nil, err
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bodyError(dec, err)
		}
		key := tok.(string)
		if _, dup := fields[key]; dup || (key == "contacts" && u.contacts) {
			return nil, dialq.InvalidField(key, "appears more than once in the same object")
		}
		if key == "contacts" {
			if err := u.addJSONContacts(dec); err != nil {
				return nil, err
			}
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, bodyError(dec, err)
		}
		fields[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, bodyError(dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, dialq.InvalidField("body", "must hold one JSON object and nothing after it")
	}
	n, o, err := decodeCampaign(fields, false)
	if err != nil {
		return nil, err
	}
	u.SetOptions(UploadOptions{DryRun: opts.DryRun || o.DryRun, SkipInvalid: opts.SkipInvalid || o.SkipInvalid})
	if err := u.SetCampaign(ctx, n); err != nil {
		return nil, err
	}
	return u.Finish(ctx)
}

// DecodeCampaign reads a campaign's fields from a JSON object without
// contacts (the campaign part of a multipart upload), with its dry_run and
// skip_invalid. Returns EINVALID naming each field it cannot read.
func DecodeCampaign(body []byte) (dialq.NewCampaign, UploadOptions, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return dialq.NewCampaign{}, UploadOptions{}, dialq.InvalidField("campaign", "must be a JSON object of the campaign's fields")
	}
	if dec.More() {
		return dialq.NewCampaign{}, UploadOptions{}, dialq.InvalidField("campaign", "must hold one JSON object and nothing after it")
	}
	return decodeCampaign(fields, true)
}

// decodeCampaign reads the fields of a campaign's JSON object.
func decodeCampaign(fields map[string]json.RawMessage, part bool) (dialq.NewCampaign, UploadOptions, error) {
	var n dialq.NewCampaign
	var o UploadOptions
	var bad []dialq.FieldError
	named := func(field, msg string) { bad = append(bad, dialq.FieldError{Field: field, Message: msg}) }
	allowed := strings.Join(append(slices.Clone(campaignFields), "contacts"), ", ")
	if part {
		allowed = strings.Join(campaignFields, ", ")
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(campaignFields, k) {
			if part && k == "contacts" {
				named(k, "goes in the contacts part, as CSV, not in the campaign part")
				continue
			}
			named(k, "is not a known field; allowed: "+allowed)
		}
	}
	str := func(name string, dst *string) {
		if raw, ok := fields[name]; ok && string(raw) != "null" {
			if json.Unmarshal(raw, dst) != nil {
				named(name, "must be a string")
			}
		}
	}
	flag := func(name string, dst *bool) {
		if raw, ok := fields[name]; ok && string(raw) != "null" {
			if json.Unmarshal(raw, dst) != nil {
				named(name, "must be true or false")
			}
		}
	}
	str("name", &n.Name)
	str("assistant_id", &n.AssistantID)
	str("trunk_id", &n.TrunkID)
	str("call_service", &n.CallService)
	flag("dry_run", &o.DryRun)
	flag("skip_invalid", &o.SkipInvalid)
	if raw, ok := fields["settings"]; ok && string(raw) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&n.Settings); err != nil {
			switch e := err.(type) {
			case *json.UnmarshalTypeError:
				if e.Field == "" {
					named("settings", "must be an object")
				} else {
					named("settings."+e.Field, "has the wrong type: "+e.Value)
				}
			case *time.ParseError:
				named("settings.start_at", "must be an RFC 3339 time, such as 2026-01-02T15:04:05Z")
			default:
				if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
					named("settings."+strings.Trim(name, `"`), "is not a known setting")
				} else {
					named("settings", "could not be read: "+err.Error())
				}
			}
		}
	}
	if len(bad) > 0 {
		return n, o, &dialq.Error{Code: dialq.EINVALID, Message: invalidMessage(bad), Fields: bad}
	}
	return n, o, nil
}

// addJSONContacts stages the elements of the contacts array one at a time;
// an element that is not a good contact is a bad row of its index, from 1.
func (u *Upload) addJSONContacts(dec *json.Decoder) error {
	if err := expectDelim(dec, '[', "contacts must be an array"); err != nil {
		if fe := dialq.ErrorFields(err); len(fe) == 1 && fe[0].Field == "body" && strings.HasPrefix(fe[0].Message, "contacts") {
			return dialq.InvalidField("contacts", "must be an array of contacts")
		}
		return err
	}
	u.contacts = true
	for line := int64(1); dec.More(); line++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bodyError(dec, err)
		}
		if err := u.addJSONContact(line, raw); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	if err != nil {
		return bodyError(dec, err)
	}
	return nil
}

// addJSONContact checks and stages one element of contacts.
func (u *Upload) addJSONContact(line int64, raw json.RawMessage) error {
	bad := func(kind, field, msg string) error {
		return u.add(dialq.StagedContact{Line: line, Problem: &dialq.ContactProblem{Line: line, Field: field, Reason: msg, Kind: kind}})
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return bad(dialq.ProblemNumber, "contact", "must be an object with to_number, and metadata and timezone if needed")
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(contactFields, k) {
			return bad(dialq.ProblemMetadata, strings.ToValidUTF8(k, "?"), "is not a known field of a contact; allowed: "+strings.Join(contactFields, ", "))
		}
	}
	var number, zone string
	if v, ok := fields["to_number"]; ok && json.Unmarshal(v, &number) != nil {
		return bad(dialq.ProblemNumber, "to_number", "must be a string")
	}
	if v, ok := fields["timezone"]; ok && string(v) != "null" && json.Unmarshal(v, &zone) != nil {
		return bad(dialq.ProblemTimezone, "timezone", "must be a string")
	}
	var md map[string]any
	mdRaw := fields["metadata"]
	if len(mdRaw) > 0 && string(mdRaw) != "null" {
		d := json.NewDecoder(bytes.NewReader(mdRaw))
		d.UseNumber()
		if err := d.Decode(&md); err != nil || md == nil {
			return bad(dialq.ProblemMetadata, "metadata", "must be a JSON object")
		}
	}
	return u.stage(line, number, zone, md, len(mdRaw), func() ([]byte, error) {
		if md == nil {
			return []byte("{}"), nil
		}
		return json.Marshal(md)
	})
}

// expectDelim reads the next token, which must be d.
func expectDelim(dec *json.Decoder, d json.Delim, msg string) error {
	tok, err := dec.Token()
	if err != nil {
		return bodyError(dec, err)
	}
	if tok != d {
		return dialq.InvalidField("body", "%s", msg)
	}
	return nil
}

// bodyError names body for a decoding error; the reader's own errors are
// returned as they are.
func bodyError(dec *json.Decoder, err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return dialq.InvalidField("body", "is not valid JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return dialq.InvalidField("body", "is not valid JSON: it ends too early (at byte %d)", dec.InputOffset())
	}
	return err
}

func invalidMessage(fields []dialq.FieldError) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + " " + f.Message
	}
	return "Invalid request: " + strings.Join(parts, "; ") + "."
}
