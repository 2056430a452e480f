package app

import (
	"fmt"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/secret"
)

// reportTokens are the report tokens of DIALQ_SECRET_KEY, or nil without one.
func reportTokens(secretKey string) (*dialq.ReportTokens, error) {
	if secretKey == "" {
		return nil, nil
	}
	key, err := secret.ParseKey(secretKey)
	if err != nil {
		return nil, fmt.Errorf("DIALQ_SECRET_KEY: %w", err)
	}
	return dialq.NewReportTokens(key), nil
}
