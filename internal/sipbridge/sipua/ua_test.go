package sipua_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/sipbridge/sipua"
)

func TestNewRefusesAddressesTheCarrierCannotReach(t *testing.T) {
	t.Parallel()
	_, err := sipua.New(sipua.Config{ListenAddr: "0.0.0.0:0"})
	require.ErrorContains(t, err, "ContactHost")
	_, err = sipua.New(sipua.Config{ListenAddr: "localhost:0"})
	require.ErrorContains(t, err, "IP address")
}
