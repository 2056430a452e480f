package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// TestDoNotCallReachesTheNextCampaign: the agent of a real call reports
// do_not_call with its report token; the API process puts the number on
// the tenant's list, and the next campaign upload through the same API
// skips it as suppressed and keeps the other row.
func TestDoNotCallReachesTheNextCampaign(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{agent: true, script: sipdouble.Always(sipdouble.Outcome{Code: 200})})
	ctx := context.Background()
	const number = "+15550200077"

	r := s.do(http.MethodPost, "/call/outbound", s.body(number, "twilio", s.twilio))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	data := r.Body["data"].(map[string]any)
	id := data["call_id"].(string)
	jctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	job, err := s.agent.WaitJob(jctx, data["room_name"].(string))
	require.NoError(t, err)
	var md dialq.DispatchMetadata
	require.NoError(t, json.Unmarshal([]byte(job.Metadata), &md))
	rep := s.doHeaders(http.MethodPost, "/call/"+id+"/report", map[string]any{"disposition": "do_not_call"},
		map[string]string{"Authorization": "Bearer " + md.ReportToken})
	require.Equal(t, http.StatusOK, rep.Status, rep.Raw)

	list := s.do(http.MethodGet, "/suppressions", nil)
	require.Equal(t, http.StatusOK, list.Status, list.Raw)
	got := list.Body["data"].([]any)
	require.Len(t, got, 1, list.Raw)
	require.Equal(t, number, got[0].(map[string]any)["number"])
	require.Contains(t, got[0].(map[string]any)["reason"], id)

	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	cj, _ := json.Marshal(map[string]any{"name": "after the report", "assistant_id": s.assistant, "trunk_id": s.twilio,
		"call_service": "twilio", "skip_invalid": true})
	p, err := w.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="campaign"`}})
	require.NoError(t, err)
	p.Write(cj)
	p, err = w.CreateFormFile("contacts", "contacts.csv")
	require.NoError(t, err)
	fmt.Fprintf(p, "to_number,name,company,agent_name\n%s,John,Acme,Sam\n+15550200078,Jane,Acme,Sam\n", number)
	require.NoError(t, w.Close())
	req, err := http.NewRequest(http.MethodPost, s.apiURL+"/campaigns", &body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", raw)
	var created struct {
		Data struct {
			ContactsTotal int `json:"contacts_total"`
			Upload        struct {
				Counts dialq.UploadCounts     `json:"counts"`
				Report []dialq.ContactProblem `json:"report"`
			} `json:"upload"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(raw, &created))
	require.Equal(t, 1, created.Data.ContactsTotal)
	require.EqualValues(t, 1, created.Data.Upload.Counts.Suppressed)
	require.Equal(t, []dialq.ContactProblem{{Line: 2, Field: "to_number", Reason: "is on the do-not-call list", Kind: dialq.ProblemSuppressed}},
		created.Data.Upload.Report)
}
