package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/localport"
)

// TestPortBlocks hands out more blocks than a region holds: each is whole,
// free, even-aligned (an RTP range of even ports), below the ephemeral
// range and never handed out twice.
func TestPortBlocks(t *testing.T) {
	t.Parallel()
	taken := map[int]bool{}
	for range 2 * regionSize / PortBlockSize {
		first, last := PortBlock(t)
		require.Equal(t, PortBlockSize-1, last-first)
		require.Zero(t, first%2)
		require.GreaterOrEqual(t, first, portsLow)
		require.Less(t, last, portsHigh)
		require.True(t, localport.Free(first, PortBlockSize))
		for port := first; port <= last; port++ {
			require.False(t, taken[port], "port %d handed out twice", port)
			taken[port] = true
		}
	}
}

// TestPortRegionsBelongToOneProcess runs this test binary again while this
// process holds a region: the other process's block is in another region,
// and this region's lock cannot be taken. It does not run in parallel: the
// child starts with a copy of every socket open at that moment, such as one
// TestPortBlocks probes with, until it execs. In the child (this same test,
// with TESTENV_PORTS_CHILD set) it only takes a block and prints it.
func TestPortRegionsBelongToOneProcess(t *testing.T) {
	first, _ := PortBlock(t)
	if os.Getenv("TESTENV_PORTS_CHILD") != "" {
		fmt.Printf("block %d\n", first)
		return
	}
	region := regionOf(first)
	_, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(region)))
	require.Error(t, err, "the region's lock is held")

	cmd := exec.Command(os.Args[0], "-test.run=^TestPortRegionsBelongToOneProcess$")
	cmd.Env = append(os.Environ(), "TESTENV_PORTS_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var other int
	_, err = fmt.Sscanf(string(out), "block %d", &other)
	require.NoError(t, err, "%s", out)
	require.NotEqual(t, region, regionOf(other))
}

func regionOf(port int) int { return portsLow + (port-portsLow)/regionSize*regionSize }
