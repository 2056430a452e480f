// Package sipdouble is a stand-in for LiveKit's SIP service (livekit-sip),
// which cannot run on this machine, for tests and for the local phone
// simulator.
//
// It serves LiveKit's own generated twirp SIP API, so the SDK's
// lksdk.NewSIPClient works against it unchanged. Trunk and dispatch-rule
// calls are proxied to a real livekit-server (which stores them in Redis), so
// a trunk created through the double is real and CreateSIPParticipant looks it
// up there. CreateSIPParticipant itself is answered the way livekit-sip
// answers it: the "phone" joins the real room as a SIP participant with the
// sip.* attributes, rings, and then answers or rejects as a Script says, with
// the same gRPC codes, messages and SIPStatus details that the real service
// returns.
//
// No SIP or RTP is sent anywhere: this is a simulation, not a phone call.
package sipdouble
