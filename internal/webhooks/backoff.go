package webhooks

import "time"

// DefaultBackoff is how long a failed delivery waits before each retry: 11
// retries over about 32 hours, so a receiver down for a day still gets
// every event. After the last one the delivery is given up (failed) until
// it is redelivered.
var DefaultBackoff = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour, 8 * time.Hour,
}
