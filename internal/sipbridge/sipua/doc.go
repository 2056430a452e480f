// Package sipua is the SIP side of dialq's SIP bridge: the user agent that
// dials a carrier's SIP trunk, answers its digest challenge, follows the call
// through ringing, answer, hold and hang-up, and tells the media relay
// (package relay) where to send RTP and in which codec.
//
// Carriers such as Exotel take SIP only from allow-listed addresses, so dialq
// places these calls itself instead of through a LiveKit SIP trunk. The UA
// knows no carrier: what is particular to one (how it wants the callee
// written, its name in failure messages) comes with each DialRequest as a
// dialq.SIPProfile. One UA serves every call of a process. Placing a call has two halves, because the worker's task
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
