import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ResolvedSimOptions } from './config.js';
import { missingComponents } from './phases.js';
import { chooseSubprotocol, decideUpgrade, hasCredentials, startupProfile } from './profiles.js';
import { speakProtocol } from './protocol.js';
import type { StartupFlags } from './startup.js';
import type { PingHost, StreamPings } from './stream.js';
import { nowEpochMs, type ConnRecord } from './truth.js';
import { round3 } from '../util/round.js';
import { quietReceiverEnds, quietSocketEnd } from '../util/quiet-end.js';

/** What the upgrade handling reads from the simulator and tells it. */
export interface UpgradeHost {
  readonly options: ResolvedSimOptions;
  readonly flags: StartupFlags;
  readonly phaseNames: readonly string[];
  /** close() was called: every upgrade gets 503 "Server shutting down". */
  stopping(): boolean;
  /** The phase an upgrade arrives in: a phase name, `ready` or `failed`. */
  phaseLabel(): string;
  sinceT0(at: number): number;
  /** An upgrade's fate is decided (exactly once per upgrade request). */
  record(rec: ConnRecord): void;
  /** A queued upgrade is held until startup ends. */
  held(info: { at: number; atMs: number; remote: string }): void;
  /** A socket of the loss window swallowed its first message. */
  dropped(rec: { type: 'drop'; action: 'lost_message'; connId: string; at: number; atMs: number; phase: string; remote: string }): void;
  /** Stream pings: their replies' timing and their truth. */
  readonly pings: PingHost;
}

type Base = Omit<ConnRecord, 'action'>;

/**
 * The WebSocket upgrades: the profile decides each one (profiles.ts, pure) and this carries the
 * decision out on the socket — a raw HTTP answer, a 101 and a close, the protocol, or held until
 * startup ends (queued) — and keeps the sockets it must close on shutdown.
 */
export class Upgrades {
  readonly open = new Set<WebSocket>();
  /** Held upgrades (queued), each with the function that releases it. */
  readonly held = new Map<Duplex, () => void>();
  private readonly raw = new Set<Duplex>();
  /** Sockets speaking the protocol, with their stream pings (replies still held are settled on shutdown). */
  private readonly speaking = new Map<WebSocket, StreamPings>();
  /** Sockets accepted with the protocol, in the order they were accepted, with who they are (a rollout's drain closes them in turn). */
  readonly accepted = new Map<WebSocket, { connId: string; remote: string }>();
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: chooseSubprotocol });
  private connSeq = 0;

  /** `idPrefix` names the sockets in the truth (`conn_1`, …); a rollout gives each revision its own. */
  constructor(
    private readonly host: UpgradeHost,
    private readonly idPrefix = 'conn_',
  ) {
    quietReceiverEnds();
  }

  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const at = nowEpochMs();
    // ws's redundant end() calls after a close would each build an error and drop it (util/quiet-end.ts).
    quietSocketEnd(socket as Socket);
    socket.on('error', () => {});
    this.raw.add(socket);
    socket.once('close', () => this.raw.delete(socket));
    const pathname = pathOf(req);
    const base: Base = { type: 'conn', at, atMs: this.host.sinceT0(at), phase: this.host.phaseLabel(), path: pathname, remote: remoteOf(req) };
    if (this.host.stopping()) return this.reject(socket, base, 'http_503', 503, 'Server shutting down');
    if (pathname !== this.host.options.path) return this.reject(socket, base, 'http_404', 404, 'Not Found');
    const o = this.host.options;
    const decision = decideUpgrade(startupProfile(o.profile), this.host.flags, {
      missing: () => missingComponents(this.host.phaseNames, this.host.flags.phase),
      active: this.open.size + this.held.size,
      maxConnections: o.maxConnections,
    });
    switch (decision.action) {
      case 'http_503':
      case 'rejected_capacity':
        return this.reject(socket, base, decision.action, 503, decision.reason, decision.action === 'http_503' ? decision.retryAfter : undefined);
      case 'close_1011':
        this.host.record({ ...base, action: 'close_1011', code: 1011, reason: decision.reason });
        return this.wss.handleUpgrade(req, socket, head, (ws) => {
          this.track(ws);
          ws.close(1011, decision.reason);
        });
      case 'accept':
        return this.accept(req, socket, head, base, decision.lossy);
      case 'hold':
        return this.hold(req, socket, head, base);
    }
  };

  /** Startup ended (ready or failed) or the simulator closes: every held upgrade gets its answer. */
  releaseHeld(): void {
    for (const release of [...this.held.values()]) release();
  }

  /** Closes open sockets with 1001 (a moment for the clients' close frames), then cuts whatever is left. */
  async close(): Promise<void> {
    for (const ws of this.open) ws.close(1001, 'Server shutting down');
    if (this.open.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 250);
        const check = () => this.open.size === 0 && (clearTimeout(t), resolve());
        for (const ws of this.open) ws.once('close', () => setImmediate(check));
      });
    }
    for (const ws of this.open) ws.terminate();
    // A terminated socket reports its close later, after the truth is written: settle its replies now.
    for (const pings of this.speaking.values()) pings.closed();
    for (const s of this.raw) s.destroy();
    this.wss.close();
  }

  private reject(socket: Duplex, base: Base, action: 'http_503' | 'http_404' | 'rejected_capacity', status: number, reason: string, retryAfter?: number): void {
    rejectUpgrade(socket, status, reason, retryAfter);
    // A 404's record has no reason (the path is the reason).
    this.host.record(action === 'http_404' ? { ...base, action, status } : { ...base, action, status, reason });
  }

  /** queued: the upgrade waits, unanswered, until startup ends; a client that hangs up meanwhile is abandoned. */
  private hold(req: IncomingMessage, socket: Duplex, head: Buffer, base: Base): void {
    const release = () => {
      this.held.delete(socket);
      socket.off('end', gone);
      socket.off('close', gone);
      const queuedMs = round3(nowEpochMs() - base.at);
      if (this.host.flags.failed || this.host.stopping()) {
        const reason = this.host.stopping() ? 'Server shutting down' : `Startup failed: ${this.host.flags.failReason}`;
        rejectUpgrade(socket, 503, reason);
        return this.host.record({ ...base, action: 'http_503', status: 503, reason, queuedMs });
      }
      this.accept(req, socket, head, base, false, queuedMs);
    };
    const gone = () => {
      if (!this.held.delete(socket)) return;
      socket.destroy();
      this.host.record({ ...base, action: 'queued_abandoned', queuedMs: round3(nowEpochMs() - base.at) });
    };
    socket.once('end', gone);
    socket.once('close', gone);
    this.held.set(socket, release);
    this.host.held({ at: base.at, atMs: base.atMs, remote: base.remote });
  }

  private accept(req: IncomingMessage, socket: Duplex, head: Buffer, base: Base, lossy: boolean, queuedMs?: number): void {
    const o = this.host.options;
    const connId = `${this.idPrefix}${++this.connSeq}`;
    const authed = !o.requireAuth || hasCredentials(req.headers.authorization, req.headers['sec-websocket-protocol']);
    const q = queuedMs === undefined ? {} : { queuedMs };
    if (!authed) this.host.record({ ...base, ...q, action: 'close_1008', code: 1008, reason: 'Authentication failed', connId });
    else this.host.record({ ...base, ...q, action: queuedMs !== undefined ? 'queued' : lossy ? 'lost_message' : 'accepted', connId });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.track(ws);
      if (!authed) return ws.close(1008, 'Authentication failed');
      const pings = speakProtocol(ws, {
        connId,
        remote: base.remote,
        userId: o.requireAuth ? 'user_authenticated' : 'anonymous',
        agentStepMs: o.agentStepMs * o.timeScale,
        dropFirstMessage: lossy,
        inLossWindow: () => this.host.flags.inLossWindow,
        phase: () => this.host.phaseLabel(),
        onDrop: () => {
          const at = nowEpochMs();
          this.host.dropped({ type: 'drop', action: 'lost_message', connId, at, atMs: this.host.sinceT0(at), phase: this.host.phaseLabel(), remote: base.remote });
        },
        pings: this.host.pings,
      });
      this.speaking.set(ws, pings);
      this.accepted.set(ws, { connId, remote: base.remote });
      ws.once('close', () => (this.speaking.delete(ws), this.accepted.delete(ws)));
    });
  }

  private track(ws: WebSocket): void {
    this.open.add(ws);
    ws.on('error', () => {});
    ws.once('close', () => this.open.delete(ws));
  }
}

/** The request's path without its query; the raw URL when it does not parse. */
export function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://x').pathname;
  } catch {
    return req.url ?? '/';
  }
}

function remoteOf(req: IncomingMessage): string {
  const s = req.socket as Socket;
  const addr = s.remoteAddress ?? '?';
  return `${addr.includes(':') ? `[${addr}]` : addr}:${s.remotePort ?? '?'}`;
}

/** A raw HTTP answer on an upgrade socket (the WebSocket never opens; the client sees the status). */
function rejectUpgrade(socket: Duplex, status: number, reason: string, retryAfter?: number): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ detail: reason });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      (retryAfter !== undefined ? `Retry-After: ${retryAfter}\r\n` : '') +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  // The server allows half-open sockets; don't wait forever for the client's FIN.
  setTimeout(() => socket.destroy(), 1000).unref();
}
