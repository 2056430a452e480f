package campaigns

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// exportColumns are the export's fixed columns; the contacts' metadata
// keys follow, sorted.
var exportColumns = []string{"line", "to_number", "timezone", "status", "outcome", "attempts", "reason", "call_id",
	"sip_status_code", "duration_seconds", "answered_by", "disposition", "summary"}

// Export writes every contact of the tenant's campaign id to w as CSV, in
// line order, streamed from Postgres as it is written: the fixed columns
// (exportColumns: its status and outcome, its attempts, its last call and
// what that call's agent reported), then one column per metadata key.
// begin is called once the campaign is found, before the first byte (the
// HTTP handler's headers). Returns ENOTFOUND if it is not the tenant's.
func (s *Service) Export(ctx context.Context, tenantID, id uuid.UUID, w io.Writer, begin func(*dialq.Campaign)) error {
	c, err := s.store.FindCampaign(ctx, tenantID, id)
	if err != nil {
		return err
	}
	keys, err := s.store.CampaignMetadataKeys(ctx, id)
	if err != nil {
		return err
	}
	// A metadata key named like a fixed column is written after it, once.
	keys = slices.DeleteFunc(keys, func(k string) bool { return slices.Contains(exportColumns, k) })
	if begin != nil {
		begin(c)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(append(slices.Clone(exportColumns), keys...)); err != nil {
		return err
	}
	n := 0
	record := make([]string, len(exportColumns)+len(keys))
	err = s.store.ExportCampaign(ctx, id, func(r dialq.ContactExport) error {
		ct := r.Contact
		record = record[:0]
		callID, sip, dur := "", "", ""
		if ct.CallID != nil {
			callID = ct.CallID.String()
		}
		if r.SIPStatusCode > 0 {
			sip = strconv.Itoa(r.SIPStatusCode)
		}
		if r.Duration != nil {
			dur = strconv.FormatFloat(r.Duration.Seconds(), 'f', 3, 64)
		}
		record = append(record, strconv.FormatInt(ct.Line, 10), ct.ToNumber, ct.Timezone, string(ct.Status), string(ct.Outcome),
			strconv.Itoa(ct.Attempts), ct.Reason, callID, sip, dur, r.AnsweredBy, r.Disposition, r.Summary)
		for _, k := range keys {
			record = append(record, metadataCell(ct.Metadata[k]))
		}
		if err := cw.Write(record); err != nil {
			return err
		}
		if n++; n%500 == 0 {
			cw.Flush()
			if f, ok := w.(interface{ Flush() }); ok {
				f.Flush()
			}
		}
		return cw.Error()
	})
	cw.Flush()
	if err != nil {
		return fmt.Errorf("export campaign %s: %w", id, err)
	}
	return cw.Error()
}

// metadataCell is a metadata value as a CSV cell: a string as it is, a
// number or boolean in JSON, nothing for a key the contact lacks.
func metadataCell(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
