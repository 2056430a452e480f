package dialq

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/nyaruka/phonenumbers"
)

// Limits on what a request may carry.
const (
	MaxMetadataKeys     = 100
	MaxMetadataKeyBytes = 64
	MaxMetadataBytes    = 16 << 10 // the metadata object as sent, in bytes
)

// OutboundRequest is the body of POST /call/outbound.
type OutboundRequest struct {
	AssistantID string         `json:"assistant_id"`
	TrunkID     string         `json:"trunk_id"`
	ToNumber    string         `json:"to_number"`
	CallService string         `json:"call_service"`
	Metadata    map[string]any `json:"metadata"`
	// DialOptions are the optional per-call dial settings; all of them
	// are left out of the JSON when not given, so a request without them
	// has the fingerprint it had before they existed.
	DialOptions
}

var (
	trunkIDPattern = regexp.MustCompile(`^ST_[A-Za-z0-9_-]{1,64}$`)
	e164Pattern    = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	metaKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// Validate checks every field and returns an EINVALID *Error listing each
// bad one, or nil. metadataBytes is the size of the metadata object as sent.
func (r *OutboundRequest) Validate(metadataBytes int) error {
	var fields []FieldError
	bad := func(field, format string, args ...any) {
		fields = append(fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	switch {
	case r.AssistantID == "":
		bad("assistant_id", "is required")
	case !isUUID(r.AssistantID):
		bad("assistant_id", "must be a UUID such as 550e8400-e29b-41d4-a716-446655440000")
	}
	switch {
	case r.TrunkID == "":
		bad("trunk_id", "is required")
	case !trunkIDPattern.MatchString(r.TrunkID):
		bad("trunk_id", "must start with ST_ followed by letters, digits, _ or - (at most 64)")
	}
	if r.ToNumber == "" {
		bad("to_number", "is required")
	} else if msg := checkE164(r.ToNumber); msg != "" {
		bad("to_number", "%s", msg)
	}
	switch {
	case r.CallService == "":
		bad("call_service", "is required")
	case !CallService(r.CallService).Valid():
		bad("call_service", "must be one of: twilio, exotel")
	}
	if len(r.Metadata) > MaxMetadataKeys {
		bad("metadata", "has %d keys; at most %d are allowed", len(r.Metadata), MaxMetadataKeys)
	}
	if metadataBytes > MaxMetadataBytes {
		bad("metadata", "is %d bytes; at most %d are allowed", metadataBytes, MaxMetadataBytes)
	}
	for _, k := range sortedKeys(r.Metadata) {
		if len(k) > MaxMetadataKeyBytes || !metaKeyPattern.MatchString(k) {
			bad("metadata."+k, "key must be 1 to %d letters, digits, _, . or -", MaxMetadataKeyBytes)
			continue
		}
		if path, msg := checkMetadataValue("metadata."+k, r.Metadata[k]); msg != "" {
			bad(path, "%s", msg)
		}
	}
	r.DialOptions.validate(CallService(r.CallService), bad)
	if len(fields) > 0 {
		return &Error{Code: EINVALID, Message: invalidMessage(fields), Fields: fields}
	}
	return nil
}

// Fingerprint identifies the request's content, so that a repeat under the
// same Idempotency-Key can be told from a different request.
func (r *OutboundRequest) Fingerprint() []byte {
	b, _ := json.Marshal(r) // map keys are sorted: equal requests, equal bytes
	sum := sha256.Sum256(b)
	return sum[:]
}

// MaxIdempotencyKeyBytes bounds the Idempotency-Key header.
const MaxIdempotencyKeyBytes = 255

// CheckIdempotencyKey returns EINVALID unless key is 1 to 255 printable
// ASCII characters.
func CheckIdempotencyKey(key string) error {
	if len(key) == 0 || len(key) > MaxIdempotencyKeyBytes {
		return InvalidField("Idempotency-Key", "header must be 1 to %d characters", MaxIdempotencyKeyBytes)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return InvalidField("Idempotency-Key", "header must be printable ASCII without spaces")
		}
	}
	return nil
}

// invalidMessage is a one-line summary naming every bad field.
func invalidMessage(fields []FieldError) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + " " + f.Message
	}
	return "Invalid request: " + strings.Join(parts, "; ") + "."
}

// InvalidField returns an EINVALID error about one field.
func InvalidField(field, format string, args ...any) *Error {
	fields := []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}
	return &Error{Code: EINVALID, Message: invalidMessage(fields), Fields: fields}
}

// ParseUUID parses an id the API was sent (assistant_id, a call id in a
// path) by the one rule every endpoint uses: the 36-character form,
// 8-4-4-4-12 hex digits with hyphens, in either case. uuid.Parse alone also
// takes braces, a urn:uuid: prefix and 32 bare hex digits; the contract
// says the 36-character form. Returns an error for anything else.
func ParseUUID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, fmt.Errorf("not a UUID in the 36-character form: %q", s)
	}
	return uuid.Parse(s)
}

func isUUID(s string) bool {
	_, err := ParseUUID(s)
	return err == nil
}

// CheckE164 returns EINVALID naming field unless s is a possible number in
// E.164 form, by the rule to_number follows.
func CheckE164(field, s string) error {
	if msg := checkE164(s); msg != "" {
		return InvalidField(field, "%s", msg)
	}
	return nil
}

// checkE164 returns why s is not a possible E.164 number, or "".
func checkE164(s string) string {
	const example = " (E.164, e.g. +15550100000)"
	if !e164Pattern.MatchString(s) {
		return "must be in E.164 format: + then the country code and number, digits only" + example
	}
	num, err := phonenumbers.Parse(s, "")
	if errors.Is(err, phonenumbers.ErrInvalidCountryCode) {
		return "has an unknown country code" + example
	}
	if err != nil {
		return "is not a phone number: " + err.Error() + example
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return ""
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "has an unknown country code" + example
	case phonenumbers.TOO_SHORT:
		return "is too short for its country" + example
	case phonenumbers.TOO_LONG:
		return "is too long for its country" + example
	default:
		return "is not a possible number for its country" + example
	}
}
