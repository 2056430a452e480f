// Package e2e holds dialq's end-to-end tests: the API, the worker and
// LiveKit wired together as the binaries wire them, against the local stack
// (PostgreSQL, Redis, livekit-server) with the SIP service double standing in
// for LiveKit's SIP service. It has no non-test code.
package e2e
