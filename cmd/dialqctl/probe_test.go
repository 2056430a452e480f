package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte(`{"status":"ok"}`))
			return
		}
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx := context.Background()

	require.NoError(t, probe(ctx, []string{srv.URL + "/healthz"}))
	require.ErrorContains(t, probe(ctx, []string{srv.URL + "/healthz", srv.URL + "/readyz"}), "/readyz: answered 503")
	require.ErrorContains(t, probe(ctx, nil), "give at least one URL")
	srv.Close()
	require.ErrorContains(t, probe(ctx, []string{"-timeout", "1s", srv.URL + "/healthz"}), "probe:")
}
