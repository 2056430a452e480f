package httpapi

import "github.com/gin-gonic/gin"

// campaignCreateRoutes serves POST /campaigns and the do-not-call list.
func (s *Server) campaignCreateRoutes(api *gin.RouterGroup) {}
