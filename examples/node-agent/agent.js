// dialq's example voice agent on LiveKit Agents for Node.js (@livekit/agents).
//
// This is the DEMO agent `make run` starts under the demo assistant's agent
// name. It shows the contract between dialq and an agent (docs/agents.md):
//
//   1. dialq dispatches the agent into the call's room before it dials; the
//      job metadata is JSON: call_id, prompt, start_instruction, metadata,
//      to_number, call_service, assistant_id (and, when dialq hands one out,
//      report_url and report_token).
//   2. The phone joins the room as `phone-<number>` (a SIP participant) and
//      its attribute sip.callStatus goes dialing -> ringing -> active -> hangup.
//   3. The agent talks (here: a quiet tone; a real agent runs STT/LLM/TTS with
//      the prompt), then reports the outcome to dialq and leaves the room.
//
// No model and no network beyond the LiveKit server: the tone stands in for
// speech so the demo runs anywhere.
//
// Run: node agent.js start   (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET)
//
// Environment:
//   DIALQ_AGENT_NAME          agent name to register (default dialq-demo-agent,
//                             the demo assistant's agent name)
//   DIALQ_AGENT_TALK_SECONDS  how long to talk after the phone answers (default 20)
//   DIALQ_AGENT_WAIT_SECONDS  how long to wait for the phone to join and answer (default 90)
//   DIALQ_AGENT_HTTP_PORT     the worker's health-check port on 127.0.0.1 (default 58081)
//   DIALQ_AGENT_IDLE_PROCESSES job processes kept warm (default 1)
//   DIALQ_AGENT_DRAIN_SECONDS on SIGINT/SIGTERM, how long running calls may go on (default 30)
//
// Every line this file writes is one JSON object with "dialq_agent": "demo" and
// an "event" (job, connected, track_published, phone_joined, phone_status,
// bridge_event, answered, talking, report_sent, report_failed, leaving), so scripts and tests can
// follow a call; the framework's own log lines are JSON too (pino).

import { cli, defineAgent, ServerOptions } from '@livekit/agents';
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  ParticipantKind,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
} from '@livekit/rtc-node';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEMO_AGENT_NAME = 'dialq-demo-agent';
const SAMPLE_RATE = 48000;
const FRAME_MS = 20;

const seconds = (name, def) => {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v}: want a number of seconds >= 0`);
  return n;
};

const emit = (event, fields = {}) => {
  process.stdout.write(`${JSON.stringify({ dialq_agent: 'demo', event, ...fields, time: new Date().toISOString() })}\n`);
};

// isPhone: the participant dialq dialed. LiveKit's SIP service joins it with
// kind SIP; dialq's own SIP bridge (Exotel) and the local phone simulator join
// it as `phone-<number>`.
const isPhone = (p) => p.kind === ParticipantKind.SIP || p.identity.startsWith('phone-');

// answered: sip.callStatus "active"; a phone participant that publishes no
// sip.callStatus at all counts as answered once it is in the room.
const answered = (p) => {
  const status = p.attributes['sip.callStatus'];
  return status === undefined || status === 'active';
};

// parseMetadata reads dialq's job metadata; a job without it (a room started
// by hand, `lk dispatch create` without metadata) gets empty fields.
const parseMetadata = (raw) => {
  if (!raw) return {};
  try {
    const md = JSON.parse(raw);
    return md && typeof md === 'object' ? md : {};
  } catch (err) {
    emit('metadata_invalid', { error: String(err) });
    return {};
  }
};

// playTone sends a quiet 440 Hz tone until stop() resolves: the stand-in for
// the agent's voice. captureFrame waits while the source's queue is full, so
// the loop runs at real time.
const playTone = async (source, stopped) => {
  const samples = (SAMPLE_RATE * FRAME_MS) / 1000;
  let t = 0;
  while (!stopped()) {
    const data = new Int16Array(samples);
    for (let i = 0; i < samples; i++, t++) {
      data[i] = Math.round(2000 * Math.sin((2 * Math.PI * 440 * t) / SAMPLE_RATE));
    }
    await source.captureFrame(new AudioFrame(data, SAMPLE_RATE, 1, samples));
  }
};

// report POSTs the call's outcome to dialq, when the job metadata carries a
// report_url and a report_token (a per-call bearer token). dialq records it on
// the call; the agent then leaves the room.
const report = async (md, body) => {
  if (!md.report_url || !md.report_token) {
    emit('report_skipped', { call_id: md.call_id, reason: 'no report_url/report_token in the job metadata' });
    return;
  }
  try {
    const res = await fetch(md.report_url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${md.report_token}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (res.ok) {
      emit('report_sent', { call_id: md.call_id, status: res.status });
    } else {
      emit('report_failed', { call_id: md.call_id, status: res.status, body: text.slice(0, 500) });
    }
  } catch (err) {
    emit('report_failed', { call_id: md.call_id, error: String(err) });
  }
};

export default defineAgent({
  entry: async (ctx) => {
    const talkSeconds = seconds('DIALQ_AGENT_TALK_SECONDS', 20);
    const waitSeconds = seconds('DIALQ_AGENT_WAIT_SECONDS', 90);
    const md = parseMetadata(ctx.job.metadata);
    const room = ctx.job.room?.name ?? '';
    emit('job', {
      note: 'this is the dialq DEMO agent: it plays a tone instead of talking',
      job_id: ctx.job.id,
      dispatch_id: ctx.job.dispatchId,
      agent_name: ctx.job.agentName,
      room,
      call_id: md.call_id,
      to_number: md.to_number,
      call_service: md.call_service,
      assistant_id: md.assistant_id,
      prompt: md.prompt,
      start_instruction: md.start_instruction,
      metadata: md.metadata,
      can_report: Boolean(md.report_url && md.report_token),
    });

    await ctx.connect();
    emit('connected', { call_id: md.call_id, room, identity: ctx.room.localParticipant?.identity });

    // The tone, published at once so the phone hears the agent as soon as it answers.
    const source = new AudioSource(SAMPLE_RATE, 1);
    const track = LocalAudioTrack.createAudioTrack('dialq-demo-tone', source);
    await ctx.room.localParticipant.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
    emit('track_published', { call_id: md.call_id, track: track.sid });

    // Wait for the phone to join and answer, or to leave, or for time to run out.
    let phone;
    let answeredAt;
    let done;
    const finished = new Promise((resolve) => {
      done = resolve;
    });
    let stopped = false;
    const finish = (reason) => {
      if (!stopped) {
        stopped = true;
        done(reason);
      }
    };
    const timers = [];
    const startTalking = () => {
      if (answeredAt) return;
      answeredAt = Date.now();
      emit('answered', { call_id: md.call_id, identity: phone.identity, talk_seconds: talkSeconds });
      timers.push(setTimeout(() => finish('talk time over'), talkSeconds * 1000));
    };
    const onPhone = (p) => {
      if (phone || !isPhone(p)) return;
      phone = p;
      emit('phone_joined', { call_id: md.call_id, identity: p.identity, kind: p.kind, sip_call_status: p.attributes['sip.callStatus'] });
      if (answered(p)) startTalking();
    };
    ctx.room.on(RoomEvent.ParticipantConnected, onPhone);
    ctx.room.on(RoomEvent.ParticipantAttributesChanged, (changed, p) => {
      if (p !== phone && !(phone === undefined && isPhone(p))) return;
      onPhone(p);
      if ('sip.callStatus' in changed) {
        const status = changed['sip.callStatus'];
        emit('phone_status', { call_id: md.call_id, identity: p.identity, sip_call_status: status });
        if (status === 'active') startTalking();
        if (status === 'hangup') finish('phone hung up');
      }
    });
    // dialq's own SIP bridge (Exotel calls) also tells the agent on the data
    // topic sip_bridge_events: {"event":"call_answered"}, call_hold, call_resume.
    ctx.room.on(RoomEvent.DataReceived, (payload, p, _kind, topic) => {
      if (topic !== 'sip_bridge_events') return;
      let msg;
      try {
        msg = JSON.parse(new TextDecoder().decode(payload));
      } catch {
        return;
      }
      emit('bridge_event', { call_id: md.call_id, from: p?.identity, bridge_event: msg.event });
      if (msg.event === 'call_answered' && phone) startTalking();
    });
    ctx.room.on(RoomEvent.ParticipantDisconnected, (p) => {
      if (p === phone || (phone && p.identity === phone.identity)) finish('phone left');
    });
    ctx.room.on(RoomEvent.Disconnected, () => finish('room closed'));
    for (const p of ctx.room.remoteParticipants.values()) onPhone(p);
    timers.push(
      setTimeout(() => {
        if (!answeredAt) finish(`no answer within ${waitSeconds}s`);
      }, waitSeconds * 1000),
    );

    const tone = playTone(source, () => stopped).catch((err) => emit('tone_failed', { call_id: md.call_id, error: String(err) }));
    emit('talking', { call_id: md.call_id, note: 'playing a tone; a real agent would speak start_instruction, then follow prompt' });
    const reason = await finished;
    timers.forEach(clearTimeout);
    await tone;

    // ---- report the outcome to dialq -----------------------------------
    // A real agent fills these from the conversation: who answered (human,
    // voicemail, ...), the disposition, a summary and structured data.
    if (answeredAt) {
      const talked = Math.round((Date.now() - answeredAt) / 100) / 10;
      await report(md, {
        answered_by: 'human',
        disposition: 'demo',
        summary: `dialq demo agent played a tone to ${md.to_number ?? 'the phone'} for ${talked}s; ended: ${reason}`,
        data: {},
      });
    }

    // Leaving the room is how this agent hangs up.
    emit('leaving', { call_id: md.call_id, reason, answered: Boolean(answeredAt) });
    await source.close().catch(() => {});
    ctx.shutdown(reason);
  },
});

// Run the worker when this file is the program (`node agent.js start`), not
// when the framework's job process imports it for its default export.
const isMain = () => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
};

if (isMain()) {
  const agentName = process.env.DIALQ_AGENT_NAME || DEMO_AGENT_NAME;
  const port = Number(process.env.DIALQ_AGENT_HTTP_PORT || 58081);
  process.stdout.write(
    `${JSON.stringify({ dialq_agent: 'demo', event: 'starting', agent_name: agentName, livekit_url: process.env.LIVEKIT_URL, health: `127.0.0.1:${port}` })}\n`,
  );
  // @livekit/agents 1.9.0 can hang on SIGTERM/SIGINT: a job process it starts
  // to keep warm while the worker drains is never closed, and the worker
  // waits on it for good. Exit anyway once the drain time (plus a margin to
  // close) is over; a job process left behind sees its parent gone and
  // exits by itself within about 15 s (seen here).
  const drainMs = seconds('DIALQ_AGENT_DRAIN_SECONDS', 30) * 1000;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      setTimeout(() => {
        process.stdout.write(`${JSON.stringify({ dialq_agent: 'demo', event: 'forced_exit', signal, after_ms: drainMs + 3000 })}\n`);
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }, drainMs + 3000).unref();
    });
  }
  cli.runApp(
    new ServerOptions({
      agent: fileURLToPath(import.meta.url),
      agentName,
      host: '127.0.0.1',
      port,
      numIdleProcesses: Number(process.env.DIALQ_AGENT_IDLE_PROCESSES || 1),
      // The framework's default drain is an hour; Ctrl-C on `make run` should not wait that long.
      drainTimeout: drainMs,
      // A demo on a busy laptop should still take its calls: the default
      // (0.7 CPU load) marks the worker full and LiveKit stops sending jobs.
      loadThreshold: Infinity,
    }),
  );
}
