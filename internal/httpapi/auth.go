package httpapi

import (
	"crypto/sha256"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

const tenantKeyName = "dialq.tenant"

// authenticate resolves the Bearer key to its tenant, or answers 401.
func (s *Server) authenticate(c *gin.Context) {
	if key, ok := s.bearer(c); ok {
		s.authenticateKey(c, key)
	}
}

// authenticateCallAgent is authenticate for the routes of one call the
// call's agent may use (report, hang up): besides an API key, it takes the
// call's report token (dialq.ReportTokens), for that call only. A token of
// another call, or expired, answers 401.
func (s *Server) authenticateCallAgent(c *gin.Context) {
	key, ok := s.bearer(c)
	if !ok {
		return
	}
	if !strings.HasPrefix(key, dialq.ReportTokenPrefix) {
		s.authenticateKey(c, key)
		return
	}
	id, err := callIDParam(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	tenant, err := s.calls.ReportTokenTenant(c.Request.Context(), id, key)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.Set(tenantKeyName, tenant)
}

// bearer returns the request's Bearer credential, or answers 401.
func (s *Server) bearer(c *gin.Context) (string, bool) {
	h := c.GetHeader("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if h == "" {
		writeError(c, s.log, dialq.Errorf(dialq.EUNAUTHORIZED, "Missing Authorization header; send Authorization: Bearer <your_api_key>."))
		return "", false
	}
	key = strings.TrimSpace(key)
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		writeError(c, s.log, dialq.Errorf(dialq.EUNAUTHORIZED, "Malformed Authorization header; send Authorization: Bearer <your_api_key>."))
		return "", false
	}
	return key, true
}

// authenticateKey resolves the API key to its tenant, or answers 401.
func (s *Server) authenticateKey(c *gin.Context, key string) {
	sum := sha256.Sum256([]byte(key))
	if tenant, ok := s.keys.Get(sum); ok {
		c.Set(tenantKeyName, tenant)
		return
	}
	id, ok := dialq.ParseAPIKey(key)
	if !ok {
		writeError(c, s.log, dialq.Errorf(dialq.EUNAUTHORIZED, "Invalid API key."))
		return
	}
	k, err := s.store.FindAPIKey(c.Request.Context(), id)
	if err != nil {
		if dialq.ErrorCode(err) == dialq.ENOTFOUND {
			err = dialq.Errorf(dialq.EUNAUTHORIZED, "Invalid API key.")
		}
		writeError(c, s.log, err)
		return
	}
	if !k.Matches(key) {
		writeError(c, s.log, dialq.Errorf(dialq.EUNAUTHORIZED, "Invalid API key."))
		return
	}
	s.keys.Put(sum, k.TenantID)
	c.Set(tenantKeyName, k.TenantID)
}

func tenantOf(c *gin.Context) uuid.UUID {
	return c.MustGet(tenantKeyName).(uuid.UUID)
}
