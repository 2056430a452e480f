package secret_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/secret"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	key, err := secret.ParseKey(secret.NewKey())
	require.NoError(t, err)
	box, err := secret.NewBox(key)
	require.NoError(t, err)

	sealed := box.Seal("s3cret-pass")
	require.False(t, bytes.Contains(sealed, []byte("s3cret")), "sealed value holds no plaintext")
	require.NotEqual(t, sealed, box.Seal("s3cret-pass"), "a fresh nonce each time")
	got, err := box.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, "s3cret-pass", got)

	empty, err := box.Open(box.Seal(""))
	require.NoError(t, err)
	require.Empty(t, empty)

	otherKey, _ := secret.ParseKey(secret.NewKey())
	other, _ := secret.NewBox(otherKey)
	_, err = other.Open(sealed)
	require.ErrorIs(t, err, secret.ErrOpen)
	sealed[len(sealed)-1] ^= 1
	_, err = box.Open(sealed)
	require.ErrorIs(t, err, secret.ErrOpen)

	_, err = secret.ParseKey("short")
	require.Error(t, err)
	_, err = secret.NewBox([]byte("short"))
	require.Error(t, err)
}

// TestBoxFromKey: the configured form of a key gives a working box; a
// malformed one is refused with the rule it breaks.
func TestBoxFromKey(t *testing.T) {
	b, err := secret.BoxFromKey(secret.NewKey())
	require.NoError(t, err)
	got, err := b.Open(b.Seal("pw"))
	require.NoError(t, err)
	require.Equal(t, "pw", got)
	_, err = secret.BoxFromKey("not-a-key")
	require.ErrorContains(t, err, "random bytes in base64")
}
