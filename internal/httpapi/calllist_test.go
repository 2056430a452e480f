package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// storeCall stores a queued call of tenant made at created, as the API
// would, and returns it.
func (h *harness) storeCall(tenant, assistant uuid.UUID, trunk, number string, created time.Time) *dialq.Call {
	h.t.Helper()
	c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: assistant, TrunkID: trunk,
		ToNumber: number, Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: created,
		Metadata: map[string]any{"name": "John Doe"}}
	_, err := h.db.CreateCall(context.Background(), c)
	require.NoError(h.t, err)
	return c
}

// otherTenant stores a second tenant, with an assistant and a trunk, and
// returns it and an API key of it.
func (h *harness) otherTenant() (tenant, assistant uuid.UUID, trunk, key string) {
	h.t.Helper()
	ctx := context.Background()
	tenant, assistant, trunk = uuid.New(), uuid.New(), h.twilio+"_other"
	require.NoError(h.t, h.db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "other"}))
	k, key := dialq.NewAPIKey(tenant)
	require.NoError(h.t, h.db.CreateAPIKey(ctx, k, "other"))
	require.NoError(h.t, h.db.SaveAssistant(ctx, &dialq.Assistant{ID: assistant, TenantID: tenant, Name: "a", AgentName: "a"}))
	require.NoError(h.t, h.db.SaveTrunk(ctx, &dialq.Trunk{ID: trunk, TenantID: tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: "ST_lk"}))
	return tenant, assistant, trunk, key
}

// listPage is one answer of GET /calls.
type listPage struct {
	Success    bool             `json:"success"`
	Data       []map[string]any `json:"data"`
	NextCursor *string          `json:"next_cursor"`
}

func (h *harness) list(key string, q url.Values) (listPage, response) {
	h.t.Helper()
	r := h.do(http.MethodGet, "/calls?"+q.Encode(), key, "", nil)
	require.Equal(h.t, http.StatusOK, r.Status, r.Raw)
	require.Contains(h.t, r.Body, "next_cursor", "next_cursor is always there, null on the last page: %s", r.Raw)
	var p listPage
	require.NoError(h.t, json.Unmarshal([]byte(r.Raw), &p))
	require.True(h.t, p.Success)
	require.NotNil(h.t, p.Data, "data is a list, [] when empty: %s", r.Raw)
	return p, r
}

// listAll pages through GET /calls with q and returns the call ids in the
// order they came and how many pages it took.
func (h *harness) listAll(key string, q url.Values) ([]string, int) {
	h.t.Helper()
	q = cloneValues(q)
	var ids []string
	for pages := 1; pages <= 100; pages++ {
		p, _ := h.list(key, q)
		for _, c := range p.Data {
			ids = append(ids, c["call_id"].(string))
		}
		if p.NextCursor == nil {
			return ids, pages
		}
		require.NotEmpty(h.t, p.Data, "a page with a next cursor has calls")
		q.Set("cursor", *p.NextCursor)
	}
	h.t.Fatal("GET /calls did not reach its last page")
	return nil, 0
}

func cloneValues(q url.Values) url.Values {
	c := url.Values{}
	for k, v := range q {
		c[k] = slices.Clone(v)
	}
	return c
}

// newestFirst is the ids of calls in the order GET /calls lists them:
// created_at, then id, descending.
func newestFirst(calls ...*dialq.Call) []string {
	calls = slices.Clone(calls)
	slices.SortFunc(calls, func(a, b *dialq.Call) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(b.ID[:], a.ID[:])
	})
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID.String()
	}
	return ids
}

// TestListCallsPagesNewestFirst pages through a tenant's calls two at a
// time, three of them made in the same microsecond: every call comes once,
// newest first, the last page has a null next_cursor, and each item is the
// call's GET /call/{id} view without its timeline.
func TestListCallsPagesNewestFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := time.Now().UTC().Truncate(time.Second)
	var stored []*dialq.Call
	for i := range 6 {
		stored = append(stored, h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", base.Add(-time.Duration(i)*time.Minute)))
	}
	for range 3 {
		stored = append(stored, h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", base.Add(-90*time.Second)))
	}
	require.NoError(t, h.db.MarkDialing(context.Background(), stored[0].ID, "phone-+15550200000", base))

	ids, pages := h.listAll(h.key, url.Values{"limit": {"2"}})
	require.Equal(t, newestFirst(stored...), ids)
	require.Equal(t, 5, pages)

	all, _ := h.list(h.key, nil)
	require.Nil(t, all.NextCursor)
	require.Len(t, all.Data, len(stored))
	for _, item := range all.Data {
		require.NotContains(t, item, "events", "a list item has no timeline")
		g := h.do(http.MethodGet, "/call/"+item["call_id"].(string), h.key, "", nil)
		require.Equal(t, http.StatusOK, g.Status, g.Raw)
		want := g.Body["data"].(map[string]any)
		require.Contains(t, want, "events")
		delete(want, "events")
		require.Equal(t, want, item)
	}
	require.Equal(t, "dialing", all.Data[0]["status"])

	// A page exactly as long as what is left is the last one.
	p, _ := h.list(h.key, url.Values{"limit": {"9"}})
	require.Len(t, p.Data, 9)
	require.Nil(t, p.NextCursor)
}

// TestListCallsFilters: each filter alone, and together, paged one call
// at a time so the cursor is checked under every filter.
func TestListCallsFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	second := uuid.New()
	require.NoError(t, h.db.SaveAssistant(ctx, &dialq.Assistant{ID: second, TenantID: h.tenant, Name: "b", AgentName: "b"}))
	base := time.Now().UTC().Truncate(time.Second)
	at := func(m int) time.Time { return base.Add(-time.Duration(m) * time.Minute) }

	a0 := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", at(0))
	a1 := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200001", at(1))
	a2 := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", at(2))
	b3 := h.storeCall(h.tenant, second, h.twilio, "+15550200001", at(3))
	b4 := h.storeCall(h.tenant, second, h.twilio, "+15550200000", at(4))
	require.NoError(t, h.db.MarkDialing(ctx, a1.ID, "phone-+15550200001", base))
	require.NoError(t, h.db.MarkDialing(ctx, b4.ID, "phone-+15550200000", base))
	_, err := h.db.RecordFailed(ctx, a1.ID, dialq.Failure{Reason: dialq.ReasonBusy, SIPCode: 486, SIPStatus: "Busy Here"}, base)
	require.NoError(t, err)
	_, err = h.db.RecordFailed(ctx, b4.ID, dialq.Failure{Reason: dialq.ReasonNoAnswer, SIPCode: 480}, base)
	require.NoError(t, err)
	require.NoError(t, h.db.MarkDialing(ctx, a2.ID, "phone-+15550200000", base))
	_, err = h.db.RecordAnswered(ctx, a2.ID, dialq.Participant{SID: "PA_1", Identity: "phone-+15550200000"}, base)
	require.NoError(t, err)

	tests := []struct {
		name string
		q    url.Values
		want []*dialq.Call
	}{
		{"none", nil, []*dialq.Call{a0, a1, a2, b3, b4}},
		{"status busy", url.Values{"status": {"busy"}}, []*dialq.Call{a1}},
		{"status no_answer", url.Values{"status": {"no_answer"}}, []*dialq.Call{b4}},
		{"status answered", url.Values{"status": {"answered"}}, []*dialq.Call{a2}},
		{"status queued", url.Values{"status": {"queued"}}, []*dialq.Call{a0, b3}},
		{"status with no calls", url.Values{"status": {"completed"}}, nil},
		{"to_number", url.Values{"to_number": {"+15550200001"}}, []*dialq.Call{a1, b3}},
		{"to_number nobody called", url.Values{"to_number": {"+15550200009"}}, nil},
		{"assistant_id", url.Values{"assistant_id": {second.String()}}, []*dialq.Call{b3, b4}},
		{"assistant_id upper case", url.Values{"assistant_id": {uuidUpper(h.assistant)}}, []*dialq.Call{a0, a1, a2}},
		{"assistant_id of no call", url.Values{"assistant_id": {uuid.NewString()}}, nil},
		{"created_from is inclusive", url.Values{"created_from": {at(2).Format(time.RFC3339)}}, []*dialq.Call{a0, a1, a2}},
		{"created_to is exclusive", url.Values{"created_to": {at(2).Format(time.RFC3339)}}, []*dialq.Call{b3, b4}},
		{"created_from with an offset", url.Values{"created_from": {at(1).In(time.FixedZone("IST", 19800)).Format(time.RFC3339)}}, []*dialq.Call{a0, a1}},
		{"created_from and created_to", url.Values{"created_from": {at(3).Format(time.RFC3339)}, "created_to": {at(1).Format(time.RFC3339Nano)}}, []*dialq.Call{a2, b3}},
		{"all filters", url.Values{"status": {"queued"}, "to_number": {"+15550200001"}, "assistant_id": {second.String()},
			"created_from": {at(4).Format(time.RFC3339)}, "created_to": {base.Add(time.Second).Format(time.RFC3339)}}, []*dialq.Call{b3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := cloneValues(tt.q)
			if q == nil {
				q = url.Values{}
			}
			q.Set("limit", "1")
			ids, _ := h.listAll(h.key, q)
			want := newestFirst(tt.want...)
			if len(want) == 0 {
				want = nil
			}
			require.Equal(t, want, ids)
		})
	}
}

func uuidUpper(id uuid.UUID) string {
	return string(bytes.ToUpper([]byte(id.String())))
}

// TestListCallsRejectsBadParameters: each bad parameter is a 400 naming it,
// several bad ones are all named in one answer, and nothing is listed.
func TestListCallsRejectsBadParameters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name, query, field, msg string
	}{
		{"unknown status", "status=bogus", "status", "must be one of queued, dialing"},
		{"status in another case", "status=FAILED", "status", "must be one of"},
		{"to_number not E.164", "to_number=15550200000", "to_number", "E.164"},
		{"to_number with a bare +", "to_number=+15550200000", "to_number", "%2B"},
		{"assistant_id not a UUID", "assistant_id=nope", "assistant_id", "UUID"},
		{"assistant_id in braces", "assistant_id={" + h.assistant.String() + "}", "assistant_id", "UUID"},
		{"created_from not a time", "created_from=yesterday", "created_from", "RFC 3339"},
		{"created_from a date only", "created_from=2025-01-02", "created_from", "RFC 3339"},
		{"created_to with no zone", "created_to=2025-01-02T15:04:05", "created_to", "RFC 3339"},
		{"created_to with a bare + offset", "created_to=2025-01-02T15:04:05+05:30", "created_to", "%2B"},
		{"created_from not before created_to", "created_from=2025-01-02T00:00:00Z&created_to=2025-01-01T00:00:00Z", "created_from", "before created_to"},
		{"created_from equal to created_to", "created_from=2025-01-02T00:00:00Z&created_to=2025-01-02T00:00:00Z", "created_from", "before created_to"},
		{"limit 0", "limit=0", "limit", "1 to 500"},
		{"limit over 500", "limit=501", "limit", "1 to 500"},
		{"limit negative", "limit=-1", "limit", "1 to 500"},
		{"limit with a sign", "limit=%2B5", "limit", "1 to 500"},
		{"limit not a number", "limit=ten", "limit", "1 to 500"},
		{"limit a fraction", "limit=2.5", "limit", "1 to 500"},
		{"limit huge", "limit=99999999999999999999", "limit", "1 to 500"},
		{"cursor not one of ours", "cursor=abc", "cursor", "not a cursor"},
		{"cursor of another encoding", "cursor=" + url.QueryEscape("2025-01-02T00:00:00Z|"+uuid.NewString()), "cursor", "not a cursor"},
		{"unknown parameter", "statuss=failed", "statuss", "not a known parameter; allowed: status, to_number"},
		{"repeated parameter", "status=failed&status=queued", "status", "given 2 times"},
		{"repeated with the same value", "limit=2&limit=2", "limit", "given 2 times"},
		{"empty value", "status=", "status", "empty"},
		{"empty cursor", "cursor=", "cursor", "empty"},
		{"bad escape", "status=%zz", "query", "not a valid query string"},
		{"semicolon", "status=failed;limit=2", "query", "not a valid query string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(http.MethodGet, "/calls?"+tt.query, h.key, "", nil)
			requireFieldError(t, r, tt.field, tt.msg)
			require.NotContains(t, r.Body, "data")
		})
	}

	t.Run("every bad one named, in parameter order", func(t *testing.T) {
		r := h.do(http.MethodGet, "/calls?zeta=1&cursor=abc&limit=0&created_to=nope&assistant_id=x&to_number=1&status=bogus&alpha=2", h.key, "", nil)
		require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
		var names []string
		for _, f := range r.Body["error"].(map[string]any)["fields"].([]any) {
			names = append(names, f.(map[string]any)["field"].(string))
		}
		require.Equal(t, []string{"status", "to_number", "assistant_id", "created_to", "limit", "cursor", "alpha", "zeta"}, names)
	})
}

// TestCallsOfAnotherTenant: a tenant's key lists none of another tenant's
// calls, not even with the other's cursor, and gets 404 for their
// timelines, as for GET /call/{id}.
func TestCallsOfAnotherTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := time.Now().UTC().Truncate(time.Second)
	mine := []*dialq.Call{
		h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", base),
		h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", base.Add(-time.Minute)),
	}
	require.NoError(t, h.db.MarkDialing(context.Background(), mine[0].ID, "phone-+15550200000", base))
	tenant, assistant, trunk, key := h.otherTenant()

	p, _ := h.list(key, nil)
	require.Empty(t, p.Data)
	require.Nil(t, p.NextCursor)
	p, _ = h.list(key, url.Values{"to_number": {"+15550200000"}, "assistant_id": {h.assistant.String()}})
	require.Empty(t, p.Data)
	first, _ := h.list(h.key, url.Values{"limit": {"1"}})
	require.NotNil(t, first.NextCursor)
	p, _ = h.list(key, url.Values{"cursor": {*first.NextCursor}})
	require.Empty(t, p.Data, "a cursor is a position, not a key to another tenant's list")

	theirs := h.storeCall(tenant, assistant, trunk, "+15550200000", base.Add(time.Minute))
	ids, _ := h.listAll(key, nil)
	require.Equal(t, []string{theirs.ID.String()}, ids)
	ids, _ = h.listAll(h.key, nil)
	require.Equal(t, newestFirst(mine...), ids)

	for _, c := range mine {
		for _, path := range []string{"/call/" + c.ID.String(), "/call/" + c.ID.String() + "/events"} {
			r := h.do(http.MethodGet, path, key, "", nil)
			require.Equal(t, http.StatusNotFound, r.Status, r.Raw)
			require.Equal(t, "not_found", r.Body["error"].(map[string]any)["code"])
			require.NotContains(t, r.Raw, "dialing", "nothing of the call shows")
		}
	}
}

// TestCallEventsMatchGetCall: GET /call/{id}/events is the timeline GET
// /call/{id} shows, [] before the worker has run, and 404 for an unknown
// call.
func TestCallEventsMatchGetCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Second)
	fresh := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", base)
	c := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", base)
	_, err := h.db.StartAttempt(ctx, c.ID)
	require.NoError(t, err)
	require.NoError(t, h.db.RecordRoom(ctx, c.ID, "room-1"))
	require.NoError(t, h.db.RecordDispatch(ctx, c.ID, "AD_1", "JOINING"))
	require.NoError(t, h.db.MarkDialing(ctx, c.ID, "phone-+15550200000", base))
	_, err = h.db.RecordAnswered(ctx, c.ID, dialq.Participant{SID: "PA_1", Identity: "phone-+15550200000"}, base)
	require.NoError(t, err)

	for _, tt := range []struct {
		call  *dialq.Call
		kinds []string
	}{
		{fresh, []string{"queued"}},
		{c, []string{"queued", "attempt", "room_created", "agent_dispatched", "dialing", "answered"}},
	} {
		ev := h.do(http.MethodGet, "/call/"+tt.call.ID.String()+"/events", h.key, "", nil)
		require.Equal(t, http.StatusOK, ev.Status, ev.Raw)
		require.Equal(t, true, ev.Body["success"])
		events := ev.Body["data"].([]any)
		g := h.do(http.MethodGet, "/call/"+tt.call.ID.String(), h.key, "", nil)
		require.Equal(t, http.StatusOK, g.Status, g.Raw)
		require.Equal(t, g.Body["data"].(map[string]any)["events"], events)
		var kinds []string
		for _, e := range events {
			kinds = append(kinds, e.(map[string]any)["kind"].(string))
		}
		require.Equal(t, tt.kinds, kinds)
		require.Equal(t, "queued", events[0].(map[string]any)["status"], "the creation moved the call to queued")
	}

	r := h.do(http.MethodGet, "/call/"+uuid.NewString()+"/events", h.key, "", nil)
	require.Equal(t, http.StatusNotFound, r.Status, r.Raw)
	require.Equal(t, "not_found", r.Body["error"].(map[string]any)["code"])

	for _, path := range []string{"/calls", "/call/" + c.ID.String() + "/events"} {
		r := h.do(http.MethodGet, path, "", "", nil)
		require.Equal(t, http.StatusUnauthorized, r.Status, r.Raw)
		r = h.do(http.MethodGet, path, "dq_nope", "", nil)
		require.Equal(t, http.StatusUnauthorized, r.Status, r.Raw)
	}
}
