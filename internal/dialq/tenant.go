package dialq

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/google/uuid"
)

// Tenant is one customer account; every assistant, trunk, key and call
// belongs to exactly one.
type Tenant struct {
	ID   uuid.UUID `db:"id"`
	Name string    `db:"name"`
	// CallLimits cap all the tenant's calls together, over all its trunks
	// (docs/limits.md). Zero is no cap.
	CallLimits
}

// Limit is the tenant's limit, false when it caps nothing.
func (t *Tenant) Limit() (Limit, bool) { return t.CallLimits.Limit(TenantLimitKey(t.ID)) }

// APIKey is a tenant's stored credential. Only the SHA-256 of the secret key
// is kept; the key itself is shown once, when it is made.
type APIKey struct {
	// ID is the key's public part, also its prefix: keys read dq_<ID>_<secret>.
	ID       string    `db:"id"`
	TenantID uuid.UUID `db:"tenant_id"`
	Hash     []byte    `db:"key_hash"`
}

const apiKeyPrefix = "dq_"

// NewAPIKey makes a random key for tenantID. It returns the record to store
// and the key to give the user once.
func NewAPIKey(tenantID uuid.UUID) (APIKey, string) {
	id := rand.Text()[:12]
	key := apiKeyPrefix + id + "_" + rand.Text()
	return APIKey{ID: id, TenantID: tenantID, Hash: HashAPIKey(key)}, key
}

// HashAPIKey is the digest stored for key.
func HashAPIKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// ParseAPIKey returns the public id of a key of the form dq_<id>_<secret>,
// or false when the key is malformed.
func ParseAPIKey(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, apiKeyPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 || len(secret) < 16 {
		return "", false
	}
	return id, true
}

// Matches reports, in constant time, whether key is this key.
func (k APIKey) Matches(key string) bool {
	return subtle.ConstantTimeCompare(k.Hash, HashAPIKey(key)) == 1
}
