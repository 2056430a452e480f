package httpapi

import "github.com/gin-gonic/gin"

// campaignControlRoutes serves the campaigns' progress and control.
func (s *Server) campaignControlRoutes(api *gin.RouterGroup) {}
