import type { WebSocket, RawData } from 'ws';

/**
 * What an accepted socket speaks, the backend's /ws protocol: connection_established first,
 * ping → pong, heartbeat → heartbeat_ack, user_message → the five agent events in order.
 */

export const AGENT_EVENTS = ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed'] as const;

export interface ProtocolContext {
  connId: string;
  /** Wall ms between agent events. */
  agentStepMs: number;
  /** racy loss window: the first client message is swallowed (the handler isn't wired yet). */
  dropFirstMessage: boolean;
  onDrop(): void;
  phase(): string;
  userId: string;
}

export function speakProtocol(ws: WebSocket, ctx: ProtocolContext): void {
  const timers = new Set<NodeJS.Timeout>();
  let dropNext = ctx.dropFirstMessage;
  let runs = 0;
  const send = (msg: object) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  ws.on('close', () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  });

  send({
    type: 'connection_established',
    data: { connection_id: ctx.connId, user_id: ctx.userId, server_time: new Date().toISOString(), phase: ctx.phase() },
  });

  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (dropNext) {
      dropNext = false;
      ctx.onDrop();
      return;
    }
    let msg: { type?: unknown; content?: unknown; thread_id?: unknown; seq?: unknown; sentAt?: unknown };
    try {
      msg = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString());
    } catch {
      send({ type: 'error', error: 'Invalid JSON' });
      return;
    }
    switch (msg?.type) {
      case 'ping':
        // A stream's ping carries seq (and sentAt): the pong echoes them, so replies are matched by number.
        send(msg.seq === undefined ? { type: 'pong', timestamp: Date.now() / 1000 } : { type: 'pong', seq: msg.seq, sentAt: msg.sentAt, timestamp: Date.now() / 1000 });
        break;
      case 'heartbeat':
        send({ type: 'heartbeat_ack', timestamp: Date.now() / 1000 });
        break;
      case 'user_message': {
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
        break;
      }
      default:
        send({ type: 'error', error: `Unknown message type: ${String(msg?.type)}` });
    }
  });
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
