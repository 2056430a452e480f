// Package sipua is the SIP side of dialq's Exotel bridge: the user agent that
// dials Exotel, answers its digest challenge, follows the call through
// ringing, answer, hold and hang-up, and tells the media relay (package
// rtpbridge) where to send RTP and in which codec.
//
// Exotel only takes SIP from allow-listed addresses, so dialq places these
// calls itself instead of through a LiveKit SIP trunk. One UA serves every
// call of a process. Placing a call has two halves, because the worker's task
// ends once the INVITE is out while the call goes on:
//
//	call, err := ua.Start(ctx, req, events) // returns once the INVITE is sent
//	err = call.Answered(ctx)                // waits for answer or failure
//	...
//	call.Hangup(ctx)
//
// Dial does both halves for callers that wait for the answer anyway. Ringing
// is bounded by the request's RingTimeout, not by the context given to Start.
//
// Failures the callee or the carrier answered are returned as
// *dialq.StepError carrying the dialq.Failure to record, with the SIP code and
// reason phrase.
package sipua
