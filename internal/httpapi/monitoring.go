package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
)

// MonitoringConfig mounts Asynqmon, the asynq dashboard, at /monitoring.
type MonitoringConfig struct {
	Redis asynq.RedisConnOpt
	// User and Password guard the dashboard with HTTP basic auth. Both empty
	// leaves it unmounted: the queue is not shown to anyone unguarded.
	User, Password string
	// ReadOnly hides the buttons that delete, run or archive tasks.
	ReadOnly bool
}

// MonitoringPath is where Asynqmon is served.
const MonitoringPath = "/monitoring"

func (s *Server) mountMonitoring(r *gin.Engine, cfg MonitoringConfig) error {
	if cfg.User == "" || cfg.Password == "" {
		s.log.Info("Asynqmon not mounted: no admin credentials configured")
		return nil
	}
	if cfg.Redis == nil {
		return fmt.Errorf("monitoring: no Redis connection configured")
	}
	h := asynqmon.New(asynqmon.Options{
		RootPath:         MonitoringPath,
		RedisConnOpt:     cfg.Redis,
		ReadOnly:         cfg.ReadOnly,
		PayloadFormatter: asynqmon.PayloadFormatterFunc(func(_ string, p []byte) string { return RedactJSON(p) }),
		ResultFormatter:  asynqmon.ResultFormatterFunc(func(_ string, p []byte) string { return RedactJSON(p) }),
	})
	user, pass := sha256.Sum256([]byte(cfg.User)), sha256.Sum256([]byte(cfg.Password))
	guard := func(c *gin.Context) {
		u, p, ok := c.Request.BasicAuth()
		uh, ph := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		if !ok || subtle.ConstantTimeCompare(uh[:], user[:])&subtle.ConstantTimeCompare(ph[:], pass[:]) != 1 {
			c.Header("WWW-Authenticate", `Basic realm="dialq monitoring", charset="UTF-8"`)
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
	}
	serve := gin.WrapH(h)
	r.GET(MonitoringPath, guard, func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, MonitoringPath+"/") })
	r.Any(MonitoringPath+"/*path", guard, serve)
	return nil
}

// secretWords mark keys whose values Asynqmon must not show.
var secretWords = []string{"password", "secret", "token", "authorization", "api_key", "apikey", "credential"}

// RedactJSON shows a payload with secret-looking values hidden and phone
// numbers cut to their last four digits.
func RedactJSON(p []byte) string {
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		return fmt.Sprintf("<%d bytes, not JSON>", len(p))
	}
	b, _ := json.Marshal(redactValue("", v))
	return string(b)
}

func redactValue(key string, v any) any {
	lk := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(lk, w) {
			return "[redacted]"
		}
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = redactValue(k, x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = redactValue(key, x)
		}
		return v
	case string:
		if strings.Contains(lk, "number") && len(v) > 4 {
			return strings.Repeat("*", len(v)-4) + v[len(v)-4:]
		}
		return v
	default:
		return v
	}
}
