package dialq

import "time"

// CallMove is a status change a store recorded: the call's service, the
// status it moved to, and for an end, how it ended. Answer is how long the
// phone took to answer (the dial to the answer) when To is answered and both
// times are known, else zero. It carries nothing of the call's identity:
// what hears it counts calls, it does not follow one.
type CallMove struct {
	Service CallService
	To      CallStatus
	End     *End
	Answer  time.Duration
}
