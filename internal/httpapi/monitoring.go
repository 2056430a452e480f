package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/dialq/dialq/internal/dialq"
)

// MonitoringConfig mounts Asynqmon, the asynq dashboard, at /monitoring.
type MonitoringConfig struct {
	Redis asynq.RedisConnOpt
	// User and Password guard the dashboard with HTTP basic auth. Both empty
	// leaves it unmounted: the queue is not shown to anyone unguarded.
	User, Password string
	// ReadOnly hides the buttons that delete, run, cancel or archive tasks
	// and pause queues, and Asynqmon's API refuses every request but a GET
	// (405, "API Server is running in read-only mode").
	ReadOnly bool
	// ShowNumbers shows phone numbers in full in tasks' payloads, results
	// and last errors; by default each is cut to its last four digits
	// (MaskPhoneNumbers). Secrets are hidden either way.
	ShowNumbers bool
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
	red := redactor{showNumbers: cfg.ShowNumbers}
	h := asynqmon.New(asynqmon.Options{
		RootPath:         MonitoringPath,
		RedisConnOpt:     cfg.Redis,
		ReadOnly:         cfg.ReadOnly,
		PayloadFormatter: asynqmon.PayloadFormatterFunc(func(_ string, p []byte) string { return red.json(p) }),
		ResultFormatter:  asynqmon.ResultFormatterFunc(func(_ string, p []byte) string { return red.json(p) }),
	})
	user, pass := sha256.Sum256([]byte(cfg.User)), sha256.Sum256([]byte(cfg.Password))
	guard := func(c *gin.Context) {
		u, p, ok := c.Request.BasicAuth()
		uh, ph := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		if !ok || subtle.ConstantTimeCompare(uh[:], user[:])&subtle.ConstantTimeCompare(ph[:], pass[:]) != 1 {
			// The JSON error every other answer has: a browser shows it
			// when its login prompt is cancelled.
			c.Header("WWW-Authenticate", `Basic realm="dialq monitoring", charset="UTF-8"`)
			c.AbortWithStatusJSON(http.StatusUnauthorized, errorBody{
				Message: "The dashboard needs the admin login (HTTP basic auth).",
				Error:   errorDetail{Code: dialq.EUNAUTHORIZED},
			})
			return
		}
	}
	serve := gin.WrapH(maskErrorMessages(h, red))
	r.GET(MonitoringPath, guard, func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, MonitoringPath+"/") })
	r.Any(MonitoringPath+"/*path", guard, serve)
	return nil
}
