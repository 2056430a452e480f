// Package relay carries the audio of one Exotel call between the phone
// and the call's LiveKit room.
//
// dialq dials Exotel itself over SIP (Exotel only accepts allow-listed
// addresses, which LiveKit Cloud does not give), so nothing on the LiveKit
// side knows about the phone. A Session makes up for that: it joins the room
// as the phone participant the way livekit-sip would (kind SIP, the sip.*
// attributes, sip.callStatus dialing → ringing → active → hangup, one
// microphone track, DTMF as SipDTMF data packets), tells the room's other
// participants of the answer, hold and resume (dialq.hold, and events on
// the "sip_bridge_events" topic, each participant each event once, one that
// joins later what it missed: see events.go) and relays audio between that
// participant and the phone's RTP stream:
//
//   - phone → room: G.711 RTP from the phone is decoded and encoded to Opus
//     at 8 kHz, 20 ms a frame, as each packet arrives, and the frames go to
//     the phone's track at once: nothing queues, so the room hears the
//     phone without added delay;
//   - room → phone: every audio track in the room is put back in order,
//     decoded to 8 kHz, mixed, and sent to the phone as 20 ms G.711 frames
//     by a pacer that keeps to real time.
//
// Both directions stay at G.711's 8 kHz: the phone's audio has no more to
// give, and resampling to and from Opus's usual 48 kHz was most of the
// bridge's work (see codec.go).
//
// The SIP user agent owns the signalling: it reserves a port with Listen for
// its SDP offer, starts the Session once it sends the INVITE, reports the
// call's progress (Ringing, Answered, Hold, Resume) and ends it with Close
// when either side hangs up. The Session ends itself when the phone stops
// sending RTP, the call reaches its maximum duration or nobody is left in
// the room; Done and Reason tell the user agent to send its BYE.
package relay
