package relay

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/livekit/media-sdk/dtmf"
)

// plan runs the sender for n frames and writes what each frame carries: a
// digit's event as its digit (upper case for its first packet, '!' for an
// end packet), '.' for audio. between is called before each frame with
// its index, to hold or skip.
func plan(d *dtmfSender, n int, between func(i int)) string {
	var b strings.Builder
	for i := range n {
		if between != nil {
			between(i)
		}
		f, ok := d.next()
		if !ok {
			b.WriteByte('.')
			continue
		}
		ev, err := dtmf.Decode(f.payload[:])
		if err != nil {
			panic(err)
		}
		switch {
		case f.start:
			b.WriteString(strings.ToUpper(string(ev.Digit)))
		case ev.End:
			b.WriteByte('!')
		default:
			b.WriteByte(ev.Digit)
		}
	}
	return b.String()
}

func TestDTMFSenderFrames(t *testing.T) {
	t.Parallel()
	tone := func(c string) string { return strings.ToUpper(c) + strings.Repeat(c, toneFrames-2) + "!!!" }
	gap := strings.Repeat(".", gapFrames-endRepeats+1)
	pause := strings.Repeat(".", pauseFrames)

	t.Run("digits and a pause", func(t *testing.T) {
		var d dtmfSender
		j := d.add("aw#")
		require.Equal(t, tone("a")+gap+pause+tone("#")+gap+"...", plan(&d, 2*digitFramesTotal+pauseFrames+3, nil))
		select {
		case <-j.done:
		default:
			t.Fatal("the job is done once its last gap is over")
		}
	})
	t.Run("one caller after the other", func(t *testing.T) {
		var d dtmfSender
		d.add("a")
		d.add("b")
		require.Equal(t, tone("a")+gap+tone("b")+gap, plan(&d, 2*digitFramesTotal, nil))
	})
	t.Run("canceled", func(t *testing.T) {
		var d dtmfSender
		j := d.add("ab")
		got := plan(&d, 2*digitFramesTotal, func(i int) {
			if i == 3 {
				d.cancel(j)
			}
		})
		require.Equal(t, tone("a")+gap+strings.Repeat(".", digitFramesTotal), got, "the digit under way is finished")
	})
	t.Run("hold restarts a digit cut short", func(t *testing.T) {
		var d dtmfSender
		d.add("a")
		require.Equal(t, "Aaaa", plan(&d, 4, nil))
		for range 10 {
			d.held()
		}
		require.Equal(t, tone("a")+gap, plan(&d, digitFramesTotal, nil))
	})
	t.Run("skips keep to the clock, never past a start or an end", func(t *testing.T) {
		var d dtmfSender
		d.add("ab")
		got := plan(&d, 2*digitFramesTotal, func(i int) {
			switch i {
			case 3:
				d.skipped(50) // into the tone: its end comes next
			case 10:
				d.skipped(5) // in the gap, which is 5 frames shorter
			case 12:
				d.skipped(3) // as b is to start: it starts next
			}
		})
		require.Equal(t, "Aaa!!!"+"......"+tone("b")+gap+strings.Repeat(".", 14), got)
	})
}

// digitFramesTotal is a digit and its gap.
const digitFramesTotal = toneFrames + gapFrames
