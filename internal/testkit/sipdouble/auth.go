package sipdouble

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/livekit/protocol/auth"
)

const bearerPrefix = "Bearer "

// caller is the verified identity of one API request.
type caller struct {
	token  string // raw JWT, forwarded to livekit-server for proxied calls
	grants *auth.ClaimGrants
}

type callerKey struct{}

func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	return c
}

// canCall reports whether the request carried a token with the SIP call grant.
func canCall(ctx context.Context) bool {
	c := callerFrom(ctx)
	return c != nil && c.grants != nil && c.grants.SIP != nil && c.grants.SIP.Call
}

// authenticate verifies the access token of each request the way
// livekit-server's API key middleware does: a malformed header, an unknown
// API key or a bad signature is refused with 401 before twirp sees the
// request; a request without a token reaches the method, which then answers
// "permissions denied" (twirp unauthenticated) if it needs a grant.
func authenticate(keys auth.KeyProvider, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var token string
		if h := r.Header.Get("Authorization"); h != "" {
			if !strings.HasPrefix(h, bearerPrefix) {
				unauthorized(w, errors.New("invalid authorization header. Must start with "+bearerPrefix))
				return
			}
			token = h[len(bearerPrefix):]
		} else {
			token = r.URL.Query().Get("access_token")
		}
		if token == "" {
			next.ServeHTTP(w, r)
			return
		}
		v, err := auth.ParseAPIToken(token)
		if err != nil {
			unauthorized(w, errors.New("invalid authorization token"))
			return
		}
		secret := keys.GetSecret(v.APIKey())
		if secret == "" {
			unauthorized(w, errors.New("invalid API key: "+v.APIKey()))
			return
		}
		_, grants, err := v.Verify(secret)
		if err != nil {
			unauthorized(w, errors.New("invalid token: "+err.Error()))
			return
		}
		ctx := context.WithValue(r.Context(), callerKey{}, &caller{token: token, grants: grants})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func unauthorized(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(err.Error()))
}
