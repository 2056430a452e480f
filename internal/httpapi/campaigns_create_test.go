package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/httpapi"
)

// campaignJSON is a campaign's fields of the harness's tenant.
func (h *harness) campaignJSON(mutate func(map[string]any)) map[string]any {
	c := map[string]any{"name": "spring", "assistant_id": h.assistant.String(), "trunk_id": h.twilio, "call_service": "twilio"}
	if mutate != nil {
		mutate(c)
	}
	return c
}

// multipartUpload is a multipart body with a campaign part and a contacts
// CSV part, and its Content-Type.
func multipartUpload(t *testing.T, campaign map[string]any, csv string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	cj, err := json.Marshal(campaign)
	require.NoError(t, err)
	p, err := w.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="campaign"`},
		"Content-Type": {"application/json"}})
	require.NoError(t, err)
	p.Write(cj)
	p, err = w.CreateFormFile("contacts", "contacts.csv")
	require.NoError(t, err)
	io.WriteString(p, csv)
	require.NoError(t, w.Close())
	return buf.Bytes(), w.FormDataContentType()
}

// uploadCSV posts a multipart upload to POST /campaigns?query.
func (h *harness) uploadCSV(query string, campaign map[string]any, csv string) response {
	h.t.Helper()
	body, ct := multipartUpload(h.t, campaign, csv)
	return h.do(http.MethodPost, "/campaigns"+query, h.key, ct, body)
}

// sqlDB opens the harness's schema for the checks of what was stored.
func (h *harness) sqlDB() *sql.DB {
	h.t.Helper()
	db, err := sql.Open("postgres", h.dsn)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { db.Close() })
	return db
}

// storedCounts is how many campaigns and contacts the tenant has.
func (h *harness) storedCounts() (campaigns, contacts int) {
	h.t.Helper()
	db := h.sqlDB()
	require.NoError(h.t, db.QueryRow(`SELECT count(*) FROM campaigns WHERE tenant_id = $1`, h.tenant).Scan(&campaigns))
	require.NoError(h.t, db.QueryRow(`SELECT count(*) FROM campaign_contacts c JOIN campaigns p ON p.id = c.campaign_id
		WHERE p.tenant_id = $1`, h.tenant).Scan(&contacts))
	return campaigns, contacts
}

type reportRow struct {
	Line   int64  `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
	Kind   string `json:"kind"`
}

// uploadReport reads data.upload of an answer.
func uploadReport(t *testing.T, r response) (counts map[string]any, report []reportRow) {
	t.Helper()
	data := r.Body["data"].(map[string]any)
	up := data["upload"].(map[string]any)
	b, _ := json.Marshal(up["report"])
	require.NoError(t, json.Unmarshal(b, &report))
	return up["counts"].(map[string]any), report
}

// badRowsCSV has a row of every kind of problem; its good rows are lines
// 2, 3 and 11.
const badRowsCSV = "to_number,name,company,timezone\n" +
	"+12125550100,Ann,Acme,\n" + // 2: good, New York from the number
	"+15550200001,Bob,Acme,Europe/Paris\n" + // 3: good, its own zone
	"12345,Cid,Acme,\n" + // 4: not E.164
	"+15550200002,Dee,,\n" + // 5: no company
	"+12125550100,Eve,Acme,\n" + // 6: duplicate of line 2
	"+15550200003,Fay,Acme,Mars/Olympus\n" + // 7: bad zone
	"+15550200004,Gus,Acme\n" + // 8: three fields
	"+15550200005,Hal,\"Ac\"me,\n" + // 9: bad quoting
	"+15550200099,Ida,Acme,\n" + // 10: suppressed
	"+15550200006,Jon,Acme,\n" // 11: good

func (h *harness) suppress(key string, numbers ...string) response {
	h.t.Helper()
	return h.doJSON(http.MethodPost, "/suppressions", key, map[string]any{"numbers": numbers, "reason": "asked"})
}

// TestCampaignCSVReportsEveryBadRow: a CSV with bad rows is refused whole
// by default, naming each bad row's line, field and reason, and storing
// nothing; with skip_invalid the good rows are the campaign.
func TestCampaignCSVReportsEveryBadRow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	require.Equal(t, http.StatusOK, h.suppress(h.key, "+15550200099").Status)

	r := h.uploadCSV("", h.campaignJSON(nil), badRowsCSV)
	require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	require.Equal(t, false, r.Body["success"])
	require.Equal(t, "contacts", r.Body["error"].(map[string]any)["fields"].([]any)[0].(map[string]any)["field"])
	counts, report := uploadReport(t, r)
	require.EqualValues(t, 10, counts["rows"])
	require.EqualValues(t, 3, counts["valid"])
	require.EqualValues(t, 5, counts["invalid"])
	require.EqualValues(t, 1, counts["duplicates"])
	require.EqualValues(t, 1, counts["suppressed"])
	require.Equal(t, map[string]any{"invalid_number": 1.0, "missing_placeholder": 1.0, "invalid_timezone": 1.0, "malformed_csv": 2.0},
		counts["invalid_by_reason"])
	want := []struct {
		line         int64
		field, kind  string
		reasonSubstr string
	}{
		{4, "to_number", "invalid_number", "E.164"},
		{5, "metadata.company", "missing_placeholder", "company"},
		{6, "to_number", "duplicate", "duplicate of line 2"},
		{7, "timezone", "invalid_timezone", "Mars/Olympus"},
		{8, "csv", "malformed_csv", "has 3 fields; the header has 4"},
		{9, "csv", "malformed_csv", `"`},
		{10, "to_number", "suppressed", "do-not-call"},
	}
	require.Len(t, report, len(want), "%+v", report)
	for i, w := range want {
		require.Equal(t, w.line, report[i].Line, "%+v", report[i])
		require.Equal(t, w.field, report[i].Field, "%+v", report[i])
		require.Equal(t, w.kind, report[i].Kind, "%+v", report[i])
		require.Contains(t, report[i].Reason, w.reasonSubstr, "%+v", report[i])
	}
	campaigns, contacts := h.storedCounts()
	require.Zero(t, campaigns, "a refused upload creates nothing")
	require.Zero(t, contacts)

	r = h.uploadCSV("?skip_invalid=true", h.campaignJSON(nil), badRowsCSV)
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	data := r.Body["data"].(map[string]any)
	id := data["id"].(string)
	require.Equal(t, "/campaigns/"+id, r.Header.Get("Location"))
	require.Equal(t, "running", data["status"])
	require.EqualValues(t, 3, data["contacts_total"])
	require.Equal(t, "UTC", data["settings"].(map[string]any)["default_timezone"], "settings come back with their defaults")
	require.EqualValues(t, 10, data["settings"].(map[string]any)["max_concurrency"])
	_, report = uploadReport(t, r)
	require.Len(t, report, 7, "what was skipped is reported")

	type contact struct {
		line         int64
		number, zone string
		metadata     string
		status       string
	}
	rows, err := h.sqlDB().Query(`SELECT line, to_number, timezone, metadata::text, status, now() - not_before
		FROM campaign_contacts WHERE campaign_id = $1 ORDER BY line`, id)
	require.NoError(t, err)
	defer rows.Close()
	var got []contact
	for rows.Next() {
		var c contact
		var delta string
		require.NoError(t, rows.Scan(&c.line, &c.number, &c.zone, &c.metadata, &c.status, &delta))
		got = append(got, c)
	}
	require.Len(t, got, 3)
	require.Equal(t, int64(2), got[0].line)
	require.Equal(t, "America/New_York", got[0].zone, "the zone of the number's area code")
	require.JSONEq(t, `{"name": "Ann", "company": "Acme"}`, got[0].metadata)
	require.Equal(t, "Europe/Paris", got[1].zone, "the row's own zone wins")
	require.Equal(t, int64(11), got[2].line)
	require.Equal(t, "UTC", got[2].zone, "a +1 555 number says no one zone: the default")
	for _, c := range got {
		require.Equal(t, "pending", c.status)
	}
}

// TestCampaignJSONInAnyOrder: the contacts array may come before the
// campaign's fields; its rows are named by index from 1; skip_invalid may
// be a body field; start_at ahead makes the campaign scheduled.
func TestCampaignJSONInAnyOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	body := fmt.Sprintf(`{"contacts": [
		{"to_number": "+15550300001", "metadata": {"name": "A", "company": "C", "visits": 3}},
		{"to_number": "+15550300001", "metadata": {"name": "A", "company": "C"}},
		{"to_number": "+15550300002", "metadata": {"name": "B"}},
		{"to_number": 15550300003, "metadata": {"name": "B", "company": "C"}},
		{"to_number": "+15550300004", "metadata": {"name": "B", "company": "C"}, "timezone": "Asia/Kolkata"},
		{"to_number": "+15550300005", "metadata": {"name": "B", "company": "C"}, "zone\u0000": "x"},
		{"to_number": "+15550300006", "metadata": {"name": {"first": "B"}, "company": "C"}}
	], "name": "json", "assistant_id": %q, "trunk_id": %q, "call_service": "twilio",
	"settings": {"start_at": %q, "default_timezone": "America/Chicago"}, "skip_invalid": true}`,
		h.assistant, h.twilio, start.Format(time.RFC3339))
	r := h.do(http.MethodPost, "/campaigns", h.key, "application/json", []byte(body))
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	data := r.Body["data"].(map[string]any)
	require.Equal(t, "scheduled", data["status"])
	require.EqualValues(t, 2, data["contacts_total"])
	counts, report := uploadReport(t, r)
	require.EqualValues(t, 7, counts["rows"])
	require.Len(t, report, 5)
	require.Equal(t, reportRow{2, "to_number", "duplicate of line 1", "duplicate"}, report[0])
	require.Equal(t, int64(3), report[1].Line)
	require.Equal(t, "metadata.company", report[1].Field)
	require.Equal(t, reportRow{4, "to_number", "must be a string", "invalid_number"}, report[2])
	require.Equal(t, int64(6), report[3].Line)
	require.Equal(t, "zone?", report[3].Field, "a key as sent, made fit for the report")
	require.Equal(t, reportRow{7, "metadata.name", "is required by the assistant's prompt or start instruction; missing: name", "missing_placeholder"},
		report[4], "an object fills no placeholder")

	var zones []string
	rows, err := h.sqlDB().Query(`SELECT timezone || ' ' || to_char(not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' ' || (metadata->>'visits' IS NOT NULL)
		FROM campaign_contacts WHERE campaign_id = $1 ORDER BY line`, data["id"])
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var z string
		require.NoError(t, rows.Scan(&z))
		zones = append(zones, z)
	}
	at := start.Format(time.RFC3339)
	require.Equal(t, []string{"America/Chicago " + at + " true", "Asia/Kolkata " + at + " false"}, zones,
		"the default zone for an ambiguous number, the row's own otherwise; not before start_at; numbers kept as numbers")
}

// TestCampaignDryRunStoresNothing: a dry run counts, estimates and stores
// nothing, and says whether the upload would be accepted.
func TestCampaignDryRunStoresNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	require.Equal(t, http.StatusOK, h.suppress(h.key, "+15550200099").Status)
	start := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC) // a Monday
	campaign := h.campaignJSON(func(c map[string]any) {
		c["settings"] = map[string]any{"start_at": start.Format(time.RFC3339), "calls_per_second": 2,
			"calling_windows": []map[string]any{{"start": "09:00", "end": "17:00"}}}
	})
	r := h.uploadCSV("?dry_run=true", campaign, badRowsCSV)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	data := r.Body["data"].(map[string]any)
	require.Equal(t, true, data["dry_run"])
	require.Equal(t, false, data["accepted"], "bad rows without skip_invalid would be refused")
	require.NotContains(t, data["campaign"], "id")
	counts, report := uploadReport(t, r)
	require.EqualValues(t, 3, counts["valid"])
	require.EqualValues(t, 1, counts["suppressed"])
	require.Len(t, report, 7)
	est := data["estimate"].(map[string]any)
	require.EqualValues(t, 3, est["contacts"])
	// Europe/Paris opens first (09:00 CET is 08:00 UTC), then UTC at
	// 09:00, then New York at 14:00 UTC.
	require.Equal(t, "2030-01-07T08:00:00Z", est["first_dial_at"])
	require.Equal(t, "2030-01-07T14:00:00Z", est["last_dial_at"])
	require.Contains(t, est["assumes"], "no retries")
	campaigns, contacts := h.storedCounts()
	require.Zero(t, campaigns)
	require.Zero(t, contacts)

	r = h.uploadCSV("?dry_run=true&skip_invalid=true", campaign, badRowsCSV)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, true, r.Body["data"].(map[string]any)["accepted"])
	campaigns, _ = h.storedCounts()
	require.Zero(t, campaigns)
}

// TestCampaignFieldsAreNamed: the campaign's own fields are checked first,
// each bad one named; the assistant and trunk must be the tenant's.
func TestCampaignFieldsAreNamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, otherAssistant, otherTrunk, _ := h.otherTenant()
	csv := "to_number,name,company\n+15550400001,A,B\n"
	tests := []struct {
		name   string
		mutate func(map[string]any)
		query  string
		status int
		field  string
		msg    string
	}{
		{"no name", func(c map[string]any) { delete(c, "name") }, "", 400, "name", "is required"},
		{"bad assistant id", func(c map[string]any) { c["assistant_id"] = "nope" }, "", 400, "assistant_id", "UUID"},
		{"bad concurrency", func(c map[string]any) { c["settings"] = map[string]any{"max_concurrency": -1} }, "", 400, "settings.max_concurrency", "from 1"},
		{"bad window", func(c map[string]any) {
			c["settings"] = map[string]any{"calling_windows": []map[string]any{{"start": "18:00", "end": "09:00"}}}
		}, "", 400, "settings.calling_windows[0].end", "after start"},
		{"unknown setting", func(c map[string]any) { c["settings"] = map[string]any{"speed": 3} }, "", 400, "settings.speed", "not a known"},
		{"wrong type", func(c map[string]any) { c["settings"] = map[string]any{"calls_per_second": "fast"} }, "", 400, "settings.calls_per_second", "wrong type"},
		{"caller id not the trunk's", func(c map[string]any) { c["settings"] = map[string]any{"caller_id": "+15550100000"} }, "", 400, "settings.caller_id", "no numbers"},
		{"contacts in the campaign part", func(c map[string]any) { c["contacts"] = []any{} }, "", 400, "contacts", "contacts part"},
		{"service is not the trunk's", func(c map[string]any) { c["call_service"] = "exotel" }, "", 400, "call_service", "twilio trunk"},
		{"unknown query parameter", nil, "?dryrun=true", 400, "dryrun", "not a known parameter"},
		{"bad flag", nil, "?dry_run=yes", 400, "dry_run", "true or false"},
		{"another tenant's assistant", func(c map[string]any) { c["assistant_id"] = otherAssistant.String() }, "", 404, "", ""},
		{"another tenant's trunk", func(c map[string]any) { c["trunk_id"] = otherTrunk }, "", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.uploadCSV(tt.query, h.campaignJSON(tt.mutate), csv)
			require.Equal(t, tt.status, r.Status, r.Raw)
			if tt.field != "" {
				requireFieldError(t, r, tt.field, tt.msg)
			}
		})
	}
	campaigns, _ := h.storedCounts()
	require.Zero(t, campaigns)
}

// TestCampaignBodyProblems: what is wrong with the body as a whole is
// named: a malformed CSV header, a missing part, text that is not JSON.
func TestCampaignBodyProblems(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name, contentType, body string
		field, msg              string
	}{
		{"no to_number column", "", "number,name\n+15550400001,A\n", "contacts", "to_number column"},
		{"repeated column", "", "to_number,name,name\n+15550400001,A,B\n", "contacts", "repeats column 2"},
		{"bad metadata column", "", "to_number,first name\n+15550400001,A\n", "contacts", "metadata key"},
		{"empty csv", "", "", "contacts", "is empty"},
		{"header only", "", "to_number,name,company\n", "contacts", "has no rows"},
		{"json not an object", "application/json", `[1]`, "body", "JSON object"},
		{"json cut short", "application/json", `{"name": "x", "contacts": [{"to_number": "+15550400001"}`, "body", "ends too early"},
		{"json without contacts", "application/json", `{"name": "x"}`, "contacts", ""},
		{"text", "text/csv", "to_number\n+15550400001\n", "Content-Type", "multipart/form-data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if tt.contentType == "" {
				r = h.uploadCSV("", h.campaignJSON(nil), tt.body)
			} else {
				r = h.do(http.MethodPost, "/campaigns", h.key, tt.contentType, []byte(tt.body))
			}
			if tt.field == "contacts" && tt.msg == "" {
				// JSON without contacts: its campaign fields are checked first.
				require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
				return
			}
			requireFieldError(t, r, tt.field, tt.msg)
		})
	}
	body, ct := multipartUpload(t, h.campaignJSON(nil), "to_number,name,company\n+15550400001,A,B\n")
	// Only the contacts part: cut the campaign part out by sending a form
	// of contacts alone.
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	p, _ := w.CreateFormFile("contacts", "c.csv")
	io.WriteString(p, "to_number,name,company\n+15550400001,A,B\n")
	w.Close()
	r := h.do(http.MethodPost, "/campaigns", h.key, w.FormDataContentType(), buf.Bytes())
	requireFieldError(t, r, "campaign", "part is required")
	r = h.do(http.MethodPost, "/campaigns", h.key, ct, body)
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
}

// TestCampaignUploadLimit: POST /campaigns takes bodies far over the
// request limit, up to its own, and answers a bigger one 413 in the JSON
// shape, declared or chunked.
func TestCampaignUploadLimit(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10
	h := newHarness(t, func(c *harnessConfig) { c.HTTP.MaxUploadBytes = limit })
	var csv strings.Builder
	csv.WriteString("to_number,name,company\n")
	for i := 0; csv.Len() < 200<<10; i++ {
		fmt.Fprintf(&csv, "+1555060%04d,Name %d,Company\n", i, i)
	}
	r := h.uploadCSV("", h.campaignJSON(nil), csv.String())
	require.Equal(t, http.StatusCreated, r.Status, "200 KiB is over MaxBodyBytes (%d) but within the upload limit: %s", httpapi.MaxBodyBytes, r.Raw)

	for csv.Len() < 2*limit {
		csv.WriteString("+15550609999,X,Y\n")
	}
	body, ct := multipartUpload(t, h.campaignJSON(nil), csv.String())
	r = h.do(http.MethodPost, "/campaigns", h.key, ct, body)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, r.Raw)
	require.Equal(t, "too_large", r.Body["error"].(map[string]any)["code"])
	require.Contains(t, r.Body["message"], "DIALQ_MAX_UPLOAD_BYTES")

	// Chunked: the length shows only as it is read.
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/campaigns", io.MultiReader(bytes.NewReader(body)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+h.key)
	req.Header.Set("Content-Type", ct)
	req.ContentLength = -1
	resp, err := h.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	var e map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	require.Equal(t, "too_large", e["error"].(map[string]any)["code"])
	campaigns, _ := h.storedCounts()
	require.Equal(t, 1, campaigns, "only the upload within the limit was stored")
}

// TestSuppressionList: numbers are added (again is fine), listed newest
// first a page at a time, deleted (404 when not there); each bad number
// named; another tenant sees none of them.
func TestSuppressionList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, _, _, otherKey := h.otherTenant()
	r := h.suppress(h.key, "+15550500001", "nope", "+15550500002", "123")
	require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	requireFieldError(t, r, "numbers[1]", "E.164")
	requireFieldError(t, r, "numbers[3]", "E.164")
	r = h.doJSON(http.MethodPost, "/suppressions", h.key, map[string]any{"numbers": []any{"+15550500001", 7}})
	requireFieldError(t, r, "numbers[1]", "must be a string")
	requireFieldError(t, h.doJSON(http.MethodPost, "/suppressions", h.key, map[string]any{"numbers": []string{}}), "numbers", "is required")

	for i := 1; i <= 5; i++ {
		r := h.suppress(h.key, fmt.Sprintf("+1555050000%d", i))
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		require.EqualValues(t, 1, r.Body["data"].(map[string]any)["added"])
	}
	r = h.suppress(h.key, "+15550500001", "+15550500001")
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.EqualValues(t, 0, r.Body["data"].(map[string]any)["added"], "already there is fine")

	var listed []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		q := "/suppressions?limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := h.do(http.MethodGet, q, h.key, "", nil)
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		for _, s := range r.Body["data"].([]any) {
			m := s.(map[string]any)
			require.Equal(t, "asked", m["reason"])
			listed = append(listed, m["number"].(string))
		}
		next, _ := r.Body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	require.Equal(t, []string{"+15550500005", "+15550500004", "+15550500003", "+15550500002", "+15550500001"}, listed)

	r = h.do(http.MethodGet, "/suppressions", otherKey, "", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Empty(t, r.Body["data"], "another tenant's list is its own")
	r = h.do(http.MethodDelete, "/suppressions/%2B15550500003", otherKey, "", nil)
	require.Equal(t, http.StatusNotFound, r.Status, r.Raw)

	r = h.do(http.MethodDelete, "/suppressions/%2B15550500003", h.key, "", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = h.do(http.MethodDelete, "/suppressions/+15550500003", h.key, "", nil)
	require.Equal(t, http.StatusNotFound, r.Status, r.Raw)
	r = h.do(http.MethodDelete, "/suppressions/0800", h.key, "", nil)
	requireFieldError(t, r, "number", "E.164")
	requireFieldError(t, h.do(http.MethodGet, "/suppressions?limit=0", h.key, "", nil), "limit", "from 1")
	requireFieldError(t, h.do(http.MethodGet, "/suppressions?cursor=xyz", h.key, "", nil), "cursor", "not a cursor")

	ok, err := h.db.IsSuppressed(context.Background(), h.tenant, "+15550500003")
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = h.db.IsSuppressed(context.Background(), h.tenant, "+15550500004")
	require.NoError(t, err)
	require.True(t, ok)
}

// TestDoNotCallReportSuppresses: an agent's report with disposition
// do_not_call puts the call's number on the tenant's list, naming the call.
func TestDoNotCallReportSuppresses(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	call := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550600042", time.Now())
	r := h.doJSON(http.MethodPost, "/call/"+call.ID.String()+"/report", h.key, map[string]any{"disposition": "interested"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	ok, err := h.db.IsSuppressed(context.Background(), h.tenant, call.ToNumber)
	require.NoError(t, err)
	require.False(t, ok)

	r = h.doJSON(http.MethodPost, "/call/"+call.ID.String()+"/report", h.key, map[string]any{"disposition": "do_not_call"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = h.do(http.MethodGet, "/suppressions", h.key, "", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	list := r.Body["data"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, call.ToNumber, list[0].(map[string]any)["number"])
	require.Contains(t, list[0].(map[string]any)["reason"], call.ID.String())

	// The next upload with that number skips it as suppressed.
	r = h.uploadCSV("", h.campaignJSON(nil), "to_number,name,company\n"+call.ToNumber+",A,B\n")
	require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	counts, _ := uploadReport(t, r)
	require.EqualValues(t, 1, counts["suppressed"])
}

// TestCampaignReportIsCapped: the report lists the first 1000 bad rows
// and says there are more; the counts cover every row.
func TestCampaignReportIsCapped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var csv strings.Builder
	csv.WriteString("to_number,name,company\n")
	for i := range 1200 {
		fmt.Fprintf(&csv, "+1555090%04d,N,\n", i) // no company
	}
	csv.WriteString("+15550919999,N,C\n")
	r := h.uploadCSV("", h.campaignJSON(nil), csv.String())
	require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	counts, report := uploadReport(t, r)
	require.EqualValues(t, 1201, counts["rows"])
	require.EqualValues(t, 1200, counts["invalid"])
	require.EqualValues(t, 1, counts["valid"])
	require.Len(t, report, 1000)
	require.Equal(t, int64(2), report[0].Line)
	require.Equal(t, int64(1001), report[999].Line)
	require.Equal(t, true, r.Body["data"].(map[string]any)["upload"].(map[string]any)["report_truncated"])
}

// TestCampaignBodyCutOff: a multipart body that ends before its closing
// boundary is the client's 400, and nothing is stored.
func TestCampaignBodyCutOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	body, ct := multipartUpload(t, h.campaignJSON(nil), "to_number,name,company\n+15550400001,A,B\n+15550400002,A,B\n")
	r := h.do(http.MethodPost, "/campaigns", h.key, ct, body[:len(body)-40])
	requireFieldError(t, r, "body", "could not be read to its end")
	campaigns, _ := h.storedCounts()
	require.Zero(t, campaigns)
}

// TestCampaignUploadsAtOnce: past MaxUploads uploads in progress, another
// is 503; the slot comes back when an upload ends.
func TestCampaignUploadsAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *harnessConfig) { c.Campaigns.MaxUploads = 1 })

	// The first upload streams from a pipe; the test holds its last row
	// back until the second has been refused. Bounded, so that a lost
	// answer fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	first := make(chan response, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/campaigns", pr)
		req.Header.Set("Authorization", "Bearer "+h.key)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := h.client.Do(req)
		if err != nil {
			first <- response{Status: -1, Raw: err.Error()}
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		first <- response{Status: resp.StatusCode, Raw: string(raw)}
	}()
	finish := make(chan struct{})
	go func() {
		defer pw.Close()
		cj, _ := json.Marshal(h.campaignJSON(nil))
		p, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="campaign"`}})
		p.Write(cj)
		p, _ = mw.CreateFormFile("contacts", "c.csv")
		io.WriteString(p, "to_number,name,company\n+15550950001,A,B\n")
		select {
		case <-finish:
			io.WriteString(p, "+15550950003,A,B\n")
			mw.Close()
		case <-ctx.Done():
		}
	}()

	require.Eventually(t, func() bool { return h.campaigns.UploadsInProgress() == 1 }, 10*time.Second, 5*time.Millisecond,
		"the first upload takes the one slot")
	csv := "to_number,name,company\n+15550950002,A,B\n"
	r := h.uploadCSV("", h.campaignJSON(nil), csv)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "the one slot is the first upload's while it streams: %s", r.Raw)

	close(finish)
	r = <-first
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	require.Eventually(t, func() bool { return h.campaigns.UploadsInProgress() == 0 }, 10*time.Second, 5*time.Millisecond,
		"its slot given back")
	r = h.uploadCSV("", h.campaignJSON(nil), csv)
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
}
