import type { WebSocket, RawData } from 'ws';
import { StreamPings, type PingHost } from './stream.js';

/**
 * What an accepted socket speaks, the backend's /ws protocol: connection_established first,
 * ping → pong, heartbeat → heartbeat_ack, user_message → the five agent events in order. A
 * ping with a `seq` is a stream's: its reply is timed (and in racy maybe dropped) by stream.ts.
 */

export const AGENT_EVENTS = ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed'] as const;

export interface ProtocolContext {
  connId: string;
  /** The client's ip:port, for the truth. */
  remote: string;
  /** Wall ms between agent events. */
  agentStepMs: number;
  /** racy loss window: the first client message is swallowed (the handler isn't wired yet). */
  dropFirstMessage: boolean;
  onDrop(): void;
  /** racy: the bridge is not wired yet, so a stream ping arriving now is swallowed. */
  inLossWindow(): boolean;
  phase(): string;
  userId: string;
  /** Where stream pings' replies are timed and their fates told (stream.ts). */
  pings: PingHost;
}

type ClientMessage = { type?: unknown; content?: unknown; thread_id?: unknown; seq?: unknown; sentAt?: unknown } | null;

/** Speaks the protocol on an accepted socket; returns its stream pings, so a shutdown can settle replies still held. */
export function speakProtocol(ws: WebSocket, ctx: ProtocolContext): StreamPings {
  const timers = new Set<NodeJS.Timeout>();
  const pings = new StreamPings(ctx.pings, ws, ctx.connId, ctx.remote);
  let dropNext = ctx.dropFirstMessage;
  let runs = 0;
  const send = (msg: object) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  ws.on('close', () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    pings.closed();
  });

  send({
    type: 'connection_established',
    data: { connection_id: ctx.connId, user_id: ctx.userId, server_time: new Date().toISOString(), phase: ctx.phase() },
  });

  const agentRun = (msg: NonNullable<ClientMessage>) => {
    const runId = `run_${ctx.connId}_${++runs}`;
    const threadId = typeof msg.thread_id === 'string' ? msg.thread_id : `thread_${ctx.connId}`;
    AGENT_EVENTS.forEach((type, i) => {
      const payload = agentPayload(type, msg.content);
      const fire = () => send({ type, run_id: runId, thread_id: threadId, agent_name: 'supervisor', timestamp: Date.now() / 1000, ...payload });
      if (i === 0) return fire();
      const t = setTimeout(() => {
        timers.delete(t);
        fire();
      }, ctx.agentStepMs * i);
      timers.add(t);
    });
  };

  ws.on('message', (data: RawData, isBinary: boolean) => {
    const at = ctx.pings.now();
    const msg = parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString());
    // A stream's ping carries seq (and sentAt): its pong echoes them, so replies are matched by number.
    const streamPing = msg?.type === 'ping' && msg.seq !== undefined;
    if (dropNext) {
      dropNext = false;
      ctx.onDrop();
      if (streamPing) pings.receive(msg.seq, msg.sentAt, at, 'first');
      return;
    }
    if (msg === undefined) return send({ type: 'error', error: 'Invalid JSON' });
    if (streamPing) return pings.receive(msg.seq, msg.sentAt, at, ctx.inLossWindow() ? 'loss_window' : null);
    switch (msg?.type) {
      case 'ping':
        return send({ type: 'pong', timestamp: Date.now() / 1000 });
      case 'heartbeat':
        return send({ type: 'heartbeat_ack', timestamp: Date.now() / 1000 });
      case 'user_message':
        return agentRun(msg);
      default:
        send({ type: 'error', error: `Unknown message type: ${String(msg?.type)}` });
    }
  });
  return pings;
}

/** The client's JSON, or undefined when it is not JSON. */
function parse(text: string): ClientMessage | undefined {
  try {
    return JSON.parse(text) as ClientMessage;
  } catch {
    return undefined;
  }
}

function agentPayload(type: (typeof AGENT_EVENTS)[number], content: unknown): Record<string, unknown> {
  switch (type) {
    case 'agent_thinking':
      return { thought: 'Working out what was asked' };
    case 'tool_executing':
      return { tool_name: 'echo', parameters: { content } };
    case 'tool_completed':
      return { tool_name: 'echo', result: { content } };
    case 'agent_completed':
      return { result: { response: content } };
    default:
      return {};
  }
}
