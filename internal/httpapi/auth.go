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
	h := c.GetHeader("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if h == "" {
		writeError(c, s.log, dialq.Errorf(dialq.EUNAUTHORIZED, "Missing Authorization header; send Authorization: Bearer <your_api_key>."))
		return
	}
	key = strings.TrimSpace(key)
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		writeError(c, s.log, dialq.Errorf(dialq.EUNAUTHORIZED, "Malformed Authorization header; send Authorization: Bearer <your_api_key>."))
		return
	}
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
