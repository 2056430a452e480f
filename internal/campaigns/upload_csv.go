package campaigns

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dialq/dialq/internal/dialq"
)

// The CSV columns that are not metadata.
const (
	columnNumber   = "to_number"
	columnTimezone = "timezone"
)

// AddCSV stages the contacts of a CSV file as it is read, one record at a
// time: a header row naming to_number, optionally timezone, and any other
// column a metadata key (every value a string; an empty cell leaves its
// key out). A record that is not well-formed CSV (wrong field count, bad
// quoting) is a bad row of the line it starts on. Returns EINVALID naming
// contacts for a header that breaks a rule, and the reader's own error
// (a body over its limit, a connection lost) as it is.
func (u *Upload) AddCSV(r io.Reader) error {
	if u.contacts {
		return dialq.InvalidField("contacts", "is given twice")
	}
	u.contacts = true
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return dialq.InvalidField("contacts", "is empty: the CSV needs a header row with a to_number column")
	case err != nil:
		if pe, ok := errors.AsType[*csv.ParseError](err); ok {
			return dialq.InvalidField("contacts", "line %d (the header) is not valid CSV: %v", pe.Line, pe.Err)
		}
		return err
	}
	header = slices.Clone(header)
	header[0] = strings.TrimPrefix(header[0], "\ufeff") // a BOM, as spreadsheets write
	numberAt, zoneAt := -1, -1
	for i, name := range header {
		name = strings.TrimSpace(name)
		header[i] = name
		if j := slices.Index(header[:i], name); j >= 0 {
			return dialq.InvalidField("contacts", "header column %d (%q) repeats column %d", i+1, name, j+1)
		}
		switch name {
		case columnNumber:
			numberAt = i
		case columnTimezone:
			zoneAt = i
		default:
			if msg := dialq.CheckMetadataKey(name); msg != "" {
				return dialq.InvalidField("contacts", "header column %d (%q) is a metadata key: %s", i+1, name, msg)
			}
		}
	}
	if numberAt < 0 {
		return dialq.InvalidField("contacts", "header row must have a to_number column; it has: %s", strings.Join(header, ", "))
	}
	if keys := len(header) - 1 - min(zoneAt+1, 1); keys > dialq.MaxMetadataKeys {
		return dialq.InvalidField("contacts", "header has %d metadata columns; at most %d are allowed", keys, dialq.MaxMetadataKeys)
	}
	cr.FieldsPerRecord = len(header)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			pe, ok := errors.AsType[*csv.ParseError](err)
			if !ok {
				return err
			}
			reason := pe.Err.Error()
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				reason = fmt.Sprintf("has %d fields; the header has %d", len(rec), len(header))
			} else if pe.Line != pe.StartLine {
				reason = fmt.Sprintf("%s (at line %d, column %d)", reason, pe.Line, pe.Column)
			} else {
				reason = fmt.Sprintf("%s (at column %d)", reason, pe.Column)
			}
			if err := u.add(dialq.StagedContact{Line: int64(pe.StartLine), Problem: &dialq.ContactProblem{
				Line: int64(pe.StartLine), Field: "csv", Reason: reason, Kind: dialq.ProblemCSV}}); err != nil {
				return err
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		md := make(map[string]any, len(header))
		size := 2
		for i, v := range rec {
			if i == numberAt || i == zoneAt || v == "" {
				continue
			}
			md[header[i]] = v
			size += len(header[i]) + len(v) + 6
		}
		zone := ""
		if zoneAt >= 0 {
			zone = strings.TrimSpace(rec[zoneAt])
		}
		if err := u.stage(int64(line), strings.TrimSpace(rec[numberAt]), zone, md, size,
			func() ([]byte, error) { return json.Marshal(md) }); err != nil {
			return err
		}
	}
}
