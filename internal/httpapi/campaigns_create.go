package httpapi

import (
	"context"
	"errors"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/dialq"
)

// Upload defaults: POST /campaigns takes bodies up to MaxUploadBytes, read
// for up to UploadTimeout.
const (
	DefaultMaxUploadBytes = 1 << 30
	DefaultUploadTimeout  = 30 * time.Minute
)

// campaignCreateRoutes serves POST /campaigns and the do-not-call list.
func (s *Server) campaignCreateRoutes(api *gin.RouterGroup) {
	api.POST("/campaigns", s.handleCreateCampaign)
	api.POST("/suppressions", s.handleSuppress)
	api.GET("/suppressions", s.handleListSuppressions)
	api.DELETE("/suppressions/:number", s.handleUnsuppress)
}

// campaignsOrAnswer returns the campaigns service, or answers 503 when
// the API runs without one.
func (s *Server) campaignsOrAnswer(c *gin.Context) *campaigns.Service {
	svc, err := s.campaignsService()
	if err != nil {
		writeError(c, s.log, err)
	}
	return svc
}

// isUpload reports whether c is POST /campaigns, whose body is an upload
// (MaxUploadBytes) rather than a request (MaxBodyBytes).
func isUpload(c *gin.Context) bool {
	return c.Request.Method == http.MethodPost && c.FullPath() == "/campaigns"
}

// uploadTooLarge is the answer to an upload over MaxUploadBytes.
func (s *Server) uploadTooLarge() error {
	return dialq.Errorf(dialq.ETOOLARGE, "The upload is larger than %d bytes (%d MiB), the most POST /campaigns reads (DIALQ_MAX_UPLOAD_BYTES).",
		s.cfg.MaxUploadBytes, s.cfg.MaxUploadBytes>>20)
}

// handleCreateCampaign is POST /campaigns: a campaign and its contacts, as
// JSON or as multipart/form-data with a campaign JSON part and a contacts
// CSV part, streamed into the campaigns service. 201 with the campaign and
// what was skipped; 200 for a dry run; 400 with the validation report when
// rows are refused.
func (s *Server) handleCreateCampaign(c *gin.Context) {
	svc := s.campaignsOrAnswer(c)
	if svc == nil {
		return
	}
	opts, err := decodeUploadQuery(c.Request.URL.RawQuery)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	// An upload takes longer than the server's read and write timeouts,
	// which are for requests.
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.UploadTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.UploadTimeout + 30*time.Second))
	body := bodyReader{http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxUploadBytes)}
	ctx := c.Request.Context()
	ct := c.GetHeader("Content-Type")
	mt, params, perr := mime.ParseMediaType(ct)
	var created *campaigns.Created
	switch {
	case perr == nil && mt == "application/json":
		created, err = svc.CreateFromJSON(ctx, tenantOf(c), body, opts)
	case perr == nil && mt == "multipart/form-data" && params["boundary"] != "":
		created, err = createFromMultipart(ctx, svc, tenantOf(c), multipart.NewReader(body, params["boundary"]), opts)
	default:
		err = dialq.InvalidField("Content-Type",
			"header must be application/json or multipart/form-data with a boundary, got %q", ct)
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		c.Header("Connection", "close")
		writeError(c, s.log, s.uploadTooLarge())
		return
	}
	if re, ok := errors.AsType[*bodyReadError](err); ok {
		// The client's side: a body cut off, a connection lost.
		c.Header("Connection", "close")
		err = dialq.InvalidField("body", "could not be read to its end: %v", re.err)
	}
	switch {
	case err != nil && created != nil:
		c.AbortWithStatusJSON(HTTPStatus(dialq.ErrorCode(err)), errorBody{
			Message: dialq.ErrorMessage(err),
			Error:   errorDetail{Code: dialq.ErrorCode(err), Fields: dialq.ErrorFields(err)},
			Data:    rejectedView{Upload: uploadViewOf(created)},
		})
	case err != nil:
		writeError(c, s.log, err)
	case created.DryRun:
		c.JSON(http.StatusOK, gin.H{"success": true, "data": dryRunView{DryRun: true, Accepted: created.Accepted,
			Campaign: campaignViewOf(created.Campaign), Upload: uploadViewOf(created), Estimate: created.Estimate}})
	default:
		v := campaignViewOf(created.Campaign)
		c.Header("Location", "/campaigns/"+v.ID.String())
		c.JSON(http.StatusCreated, gin.H{"success": true, "data": createdView{campaignView: v, Upload: uploadViewOf(created)}})
	}
}

// createFromMultipart reads a multipart upload part by part, as it
// streams: the campaign part (JSON, at most MaxBodyBytes) and the contacts
// part (CSV), in either order.
func createFromMultipart(ctx context.Context, svc *campaigns.Service, tenant uuid.UUID, mr *multipart.Reader, opts campaigns.UploadOptions) (*campaigns.Created, error) {
	u, err := svc.BeginUpload(ctx, tenant, opts)
	if err != nil {
		return nil, err
	}
	defer u.Close()
	seen := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, err
			}
			return nil, dialq.InvalidField("body", "is not valid multipart/form-data: %v", err)
		}
		switch name := part.FormName(); name {
		case "campaign":
			if seen {
				return nil, dialq.InvalidField("campaign", "part is given twice")
			}
			seen = true
			raw, err := io.ReadAll(io.LimitReader(part, MaxBodyBytes+1))
			if err != nil {
				return nil, err
			}
			if len(raw) > MaxBodyBytes {
				return nil, dialq.InvalidField("campaign", "part is larger than %d bytes", MaxBodyBytes)
			}
			n, o, err := campaigns.DecodeCampaign(raw)
			if err != nil {
				return nil, err
			}
			u.SetOptions(campaigns.UploadOptions{DryRun: opts.DryRun || o.DryRun, SkipInvalid: opts.SkipInvalid || o.SkipInvalid})
			if err := u.SetCampaign(ctx, n); err != nil {
				return nil, err
			}
		case "contacts":
			if err := u.AddCSV(bodyReader{part}); err != nil {
				return nil, err
			}
		default:
			return nil, dialq.InvalidField("body", "has a part named %q; the parts are campaign (JSON) and contacts (CSV)", name)
		}
	}
	if !seen {
		return nil, dialq.InvalidField("campaign", "part is required: the campaign's fields as JSON")
	}
	return u.Finish(ctx)
}

// bodyReader marks the errors of reading the request body, so that a body
// cut off is told from a failure of dialq's own.
type bodyReader struct{ r io.Reader }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		if _, ok := errors.AsType[*bodyReadError](err); !ok {
			err = &bodyReadError{err}
		}
	}
	return n, err
}

// bodyReadError is an error reading the request body.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "read the request body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// uploadParams are the query parameters of POST /campaigns.
var uploadParams = []string{"dry_run", "skip_invalid"}

// decodeUploadQuery reads ?dry_run=true&skip_invalid=true. Returns EINVALID
// naming a parameter that is unknown, repeated or not true or false.
func decodeUploadQuery(raw string) (campaigns.UploadOptions, error) {
	var o campaigns.UploadOptions
	q, err := url.ParseQuery(raw)
	if err != nil {
		return o, dialq.InvalidField("query", "is not a valid query string: %v", err)
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		vs := q[name]
		if !slices.Contains(uploadParams, name) {
			return o, dialq.InvalidField(name, "is not a known parameter; allowed: %s", strings.Join(uploadParams, ", "))
		}
		if len(vs) != 1 || (vs[0] != "true" && vs[0] != "false") {
			return o, dialq.InvalidField(name, "must be given once, as true or false")
		}
		v := vs[0] == "true"
		if name == "dry_run" {
			o.DryRun = v
		} else {
			o.SkipInvalid = v
		}
	}
	return o, nil
}
