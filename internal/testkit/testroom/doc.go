// Package testroom stands in for the voice agent in tests of the Exotel
// bridge: an Agent joins a call's LiveKit room as a participant of kind
// AGENT and watches the phone participant the bridge puts there, the way a
// real agent would, and a few functions tell what its audio is (loud, a
// tone, which frequency).
//
// It is used only by tests, against the stack's livekit-server (testenv).
package testroom
