package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/dialq/dialq/internal/dialq"
)

// statusOf is the one map from dialq error codes to HTTP statuses.
var statusOf = map[string]int{
	dialq.EINVALID:      http.StatusBadRequest,
	dialq.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	dialq.EMETHOD:       http.StatusMethodNotAllowed,
	dialq.EUNAUTHORIZED: http.StatusUnauthorized,
	dialq.ENOTFOUND:     http.StatusNotFound,
	dialq.ECONFLICT:     http.StatusConflict,
	dialq.ECALLFAILED:   http.StatusUnprocessableEntity,
	dialq.EUPSTREAM:     http.StatusBadGateway,
	dialq.EUNAVAILABLE:  http.StatusServiceUnavailable,
	dialq.EINTERNAL:     http.StatusInternalServerError,
}

// HTTPStatus returns the HTTP status an error with dialq code is answered with.
func HTTPStatus(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errorBody is the body of every error answer.
type errorBody struct {
	Success bool        `json:"success"`
	Message string      `json:"message"`
	Error   errorDetail `json:"error"`
	Data    any         `json:"data,omitempty"`
}

type errorDetail struct {
	Code   string             `json:"code"`
	Fields []dialq.FieldError `json:"fields,omitempty"`
	// Set when a call failed: why, and the SIP answer if there was one.
	Reason        dialq.FailureReason `json:"reason,omitempty"`
	SIPStatusCode int                 `json:"sip_status_code,omitempty"`
	SIPStatus     string              `json:"sip_status,omitempty"`
}

// writeError answers with err. Internal errors are logged with their detail
// and answered with a generic message.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	code := dialq.ErrorCode(err)
	if code == dialq.EINTERNAL || code == dialq.EUNAVAILABLE {
		// The path as asked, so the line says which call; the route groups
		// lines of one endpoint.
		attrs := []any{"method", c.Request.Method, "path", c.Request.URL.Path, "route", c.FullPath(), "err", err}
		if id, perr := dialq.ParseUUID(c.Param("id")); perr == nil {
			attrs = append(attrs, "call_id", id)
		}
		log.Error("request failed", attrs...)
	}
	if code == dialq.EUNAUTHORIZED {
		c.Header("WWW-Authenticate", `Bearer realm="dialq"`)
	}
	if code == dialq.EUNAVAILABLE {
		c.Header("Retry-After", "5")
	}
	c.AbortWithStatusJSON(HTTPStatus(code), errorBody{
		Message: dialq.ErrorMessage(err),
		Error:   errorDetail{Code: code, Fields: dialq.ErrorFields(err)},
	})
}
