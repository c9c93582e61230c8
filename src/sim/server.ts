import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';
import { resolveSimOptions, type SimOptions, type SimProfile } from './config.js';
import { handleHealth, send } from './health.js';
import { PhaseLog } from './log.js';
import { computePlan, missingComponents, type StartupPlan } from './phases.js';
import { chooseSubprotocol, decideUpgrade, hasCredentials } from './profiles.js';
import { speakProtocol } from './protocol.js';
import { raceMarks, StartupRunner, type Mark, type RaceMarks } from './startup.js';
import { nowEpochMs, TruthWriter, type ConnAction, type ConnRecord } from './truth.js';

/**
 * The cold-start simulator: an HTTP + WebSocket server whose startup clock starts the moment
 * startSimulator() is called (that call is the cold start), and which answers /ws and /health
 * the way the chosen profile says a half-started service does.
 */

export interface SimState {
  profile: SimProfile;
  /** Current phase, `ready`, or `failed`. */
  phase: string;
  /** Phase the startup failed in, if it did. */
  failedPhase?: string;
  failReason?: string;
  ready: boolean;
  failed: boolean;
  bridgeReady: boolean;
  /** /health answers 200. */
  healthy: boolean;
  inLossWindow: boolean;
  listening: boolean;
  /** Wall ms since t0. */
  elapsedMs: number;
  openSockets: number;
  heldUpgrades: number;
  /** Conn records so far, by action. */
  counts: Partial<Record<ConnAction, number>>;
}

export interface SimHandle {
  port: number;
  host: string;
  path: string;
  profile: SimProfile;
  /** ws://host:port/path */
  url: string;
  /** http://host:port */
  httpUrl: string;
  /** Epoch ms (performance.timeOrigin + performance.now()) when startSimulator was called. */
  t0: number;
  plan: StartupPlan;
  /** racy's early-health and loss-window offsets (wall ms after t0). */
  marks: RaceMarks;
  /**
   * 'phase' (name, plannedMs) incl. 'ready'; 'mark' (Mark, plannedMs); 'ready' (ms);
   * 'failed' (reason, ms); 'conn' (ConnRecord, when an upgrade's fate is decided);
   * 'held' ({at, atMs, remote}, queued only); 'drop' (lost-message record).
   */
  events: EventEmitter;
  state(): SimState;
  /** Resolves with the epoch ms the mark was reached; rejects when it can no longer happen, on close, or after timeoutMs. */
  until(mark: Mark, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

export async function startSimulator(options: SimOptions = {}): Promise<SimHandle> {
  const t0Perf = performance.now();
  const t0 = performance.timeOrigin + t0Perf;
  const o = resolveSimOptions(options);
  const plan = computePlan(o.phases, o.timeScale, { envMultiplier: o.envMultiplier, safetyMargin: o.safetyMargin, maxTotal: o.maxTotal });
  const marks = raceMarks(plan, o.profile, o.raceWindowMs, o.lossWindowMs);
  const runner = new StartupRunner(plan, marks, t0Perf, t0, new PhaseLog(options.log === undefined ? process.stdout : options.log));
  const flags = runner.flags;
  const truth = o.truth ? new TruthWriter(o.truth) : null;
  const counts: Partial<Record<ConnAction, number>> = {};
  const open = new Set<WebSocket>();
  const held = new Map<Duplex, () => void>();
  const rawSockets = new Set<Duplex>();
  let connSeq = 0;
  let closing: Promise<void> | null = null;
  let stopping = false; // set synchronously by close(), before `closing` is assigned
  let listenError: Error | null = null;
  const phaseLabel = () => (flags.failed ? 'failed' : flags.phase);
  const sinceT0 = (at: number) => Math.round((at - t0) * 1000) / 1000;

  // ---- truth and events ------------------------------------------------------------------
  truth?.write({
    type: 'start',
    at: t0,
    atMs: 0,
    t0,
    profile: o.profile,
    timeScale: o.timeScale,
    path: o.path,
    plan: {
      phases: plan.phases,
      readyAtMs: plan.readyAtMs,
      bridgeReadyAtMs: plan.bridgeReadyAtMs,
      failAtMs: plan.failAtMs,
      failedPhase: plan.failedPhase,
      failReason: plan.failReason,
      ...marks,
    },
  });
  runner.on('phase', (phase: string, plannedMs: number) => {
    const at = nowEpochMs();
    truth?.write({ type: 'phase', phase, at, atMs: sinceT0(at), plannedMs });
  });
  runner.on('failed', (reason: string, plannedMs: number) => {
    const at = nowEpochMs();
    truth?.write({ type: 'phase', phase: 'failed', failedPhase: flags.phase, reason, at, atMs: sinceT0(at), plannedMs });
  });
  runner.on('mark', (mark: Mark, plannedMs: number) => {
    if (mark === 'ready' || mark === 'failed') return; // phase lines say these
    const at = nowEpochMs();
    truth?.write({ type: 'mark', mark, at, atMs: sinceT0(at), plannedMs });
  });

  const record = (rec: ConnRecord) => {
    counts[rec.action] = (counts[rec.action] ?? 0) + 1;
    truth?.write(rec);
    runner.emit('conn', rec);
  };

  // ---- HTTP ------------------------------------------------------------------------------
  const server = createServer((req, res) => {
    const pathname = pathOf(req);
    const view = { flags, slowStartupAfter: o.slowStartupAfter, modelElapsedS: () => runner.elapsed() / 1000 / o.timeScale };
    if (handleHealth(req, res, pathname, view)) return;
    if (pathname === o.path) {
      res.setHeader('upgrade', 'websocket');
      return send(res, 426, { detail: 'Upgrade Required' });
    }
    send(res, 404, { detail: 'Not Found' });
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: chooseSubprotocol });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const at = nowEpochMs();
    socket.on('error', () => {});
    rawSockets.add(socket);
    socket.once('close', () => rawSockets.delete(socket));
    const pathname = pathOf(req);
    const base = { type: 'conn' as const, at, atMs: sinceT0(at), phase: phaseLabel(), path: pathname, remote: remoteOf(req) };
    if (stopping) {
      rejectUpgrade(socket, 503, 'Server shutting down');
      return record({ ...base, action: 'http_503', status: 503, reason: 'Server shutting down' });
    }
    if (pathname !== o.path) {
      rejectUpgrade(socket, 404, 'Not Found');
      return record({ ...base, action: 'http_404', status: 404 });
    }
    const decision = decideUpgrade(o.profile, flags, {
      missing: () => missingComponents(plan.phaseNames, flags.phase),
      active: open.size + held.size,
      maxConnections: o.maxConnections,
    });
    switch (decision.action) {
      case 'http_503':
      case 'rejected_capacity':
        rejectUpgrade(socket, 503, decision.reason, decision.action === 'http_503' ? decision.retryAfter : undefined);
        return record({ ...base, action: decision.action, status: 503, reason: decision.reason });
      case 'close_1011':
        record({ ...base, action: 'close_1011', code: 1011, reason: decision.reason });
        return wss.handleUpgrade(req, socket, head, (ws) => {
          track(ws);
          ws.close(1011, decision.reason);
        });
      case 'accept':
        return accept(req, socket, head, base, decision.lossy);
      case 'hold': {
        const release = () => {
          held.delete(socket);
          socket.off('end', gone);
          socket.off('close', gone);
          const queuedMs = round3(nowEpochMs() - at);
          if (flags.failed || stopping) {
            const reason = stopping ? 'Server shutting down' : `Startup failed: ${flags.failReason}`;
            rejectUpgrade(socket, 503, reason);
            return record({ ...base, action: 'http_503', status: 503, reason, queuedMs });
          }
          accept(req, socket, head, base, false, queuedMs);
        };
        const gone = () => {
          if (!held.delete(socket)) return;
          socket.destroy();
          record({ ...base, action: 'queued_abandoned', queuedMs: round3(nowEpochMs() - at) });
        };
        socket.once('end', gone);
        socket.once('close', gone);
        held.set(socket, release);
        runner.emit('held', { at, atMs: base.atMs, remote: base.remote });
        return;
      }
    }
  });

  const releaseHeld = () => {
    for (const release of [...held.values()]) release();
  };
  runner.on('ready', releaseHeld);
  runner.on('failed', releaseHeld);

  function track(ws: WebSocket): void {
    open.add(ws);
    ws.on('error', () => {});
    ws.once('close', () => open.delete(ws));
  }

  function accept(req: IncomingMessage, socket: Duplex, head: Buffer, base: Omit<ConnRecord, 'action'>, lossy: boolean, queuedMs?: number): void {
    const connId = `conn_${++connSeq}`;
    const authed = !o.requireAuth || hasCredentials(req.headers.authorization, req.headers['sec-websocket-protocol']);
    const q = queuedMs === undefined ? {} : { queuedMs };
    if (!authed) record({ ...base, ...q, action: 'close_1008', code: 1008, reason: 'Authentication failed', connId });
    else record({ ...base, ...q, action: queuedMs !== undefined ? 'queued' : lossy ? 'lost_message' : 'accepted', connId });
    wss.handleUpgrade(req, socket, head, (ws) => {
      track(ws);
      if (!authed) return ws.close(1008, 'Authentication failed');
      speakProtocol(ws, {
        connId,
        userId: o.requireAuth ? 'user_authenticated' : 'anonymous',
        agentStepMs: o.agentStepMs * o.timeScale,
        dropFirstMessage: lossy,
        phase: phaseLabel,
        onDrop: () => {
          const at = nowEpochMs();
          const rec = { type: 'drop', action: 'lost_message', connId, at, atMs: sinceT0(at), phase: phaseLabel(), remote: base.remote };
          truth?.write(rec);
          runner.emit('drop', rec);
        },
      });
    });
  }

  // ---- listening -------------------------------------------------------------------------
  let port = o.port;
  const markListening = () => {
    port = (server.address() as { port: number }).port;
    runner.reach('listening');
  };
  runner.start(); // t=0: PHASE TRANSITION -> <first phase>
  try {
    if (o.profile === 'refuse') {
      // Nothing may listen before ready, yet callers need the port now: borrow a free one.
      if (port === 0) port = await pickFreePort(o.host);
      const listenAtReady = () => {
        if (stopping) return;
        server.once('error', (err) => {
          listenError = err;
          runner.emit('listen_error', err);
          settleWaiters();
        });
        server.listen(port, o.host, markListening);
      };
      // Ready may already have passed while the port was being picked (tiny plans).
      if (flags.ready) listenAtReady();
      else runner.once('ready', listenAtReady);
    } else {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, o.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      markListening();
    }
  } catch (err) {
    runner.stop();
    truth?.close();
    throw err;
  }

  // ---- until() ---------------------------------------------------------------------------
  const waiters = new Set<{ mark: Mark; resolve: (at: number) => void; reject: (e: Error) => void }>();
  function settleWaiters(): void {
    for (const w of [...waiters]) {
      const at = runner.reached.get(w.mark);
      let why: string | null = null;
      if (at !== undefined) {
        waiters.delete(w);
        w.resolve(at);
        continue;
      }
      if (stopping) why = 'the simulator was closed';
      else if (flags.failed) why = `startup failed (${flags.failReason})`;
      else if (w.mark === 'listening' && listenError) why = `listen failed (${listenError.message})`;
      else if (runner.finished && w.mark !== 'listening') why = 'startup completed without it';
      if (why) {
        waiters.delete(w);
        w.reject(new Error(`sim: ${w.mark} will not happen: ${why}`));
      }
    }
  }
  runner.on('mark', settleWaiters);

  const host = o.host;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const handle: SimHandle = {
    get port() {
      return port;
    },
    host,
    path: o.path,
    profile: o.profile,
    get url() {
      return `ws://${hostInUrl}:${port}${o.path}`;
    },
    get httpUrl() {
      return `http://${hostInUrl}:${port}`;
    },
    t0,
    plan,
    marks,
    events: runner,
    state: () => ({
      profile: o.profile,
      phase: phaseLabel(),
      ...(flags.failed ? { failedPhase: flags.phase, failReason: flags.failReason } : {}),
      ready: flags.ready,
      failed: flags.failed,
      bridgeReady: flags.bridgeReady,
      healthy: !flags.failed && (flags.healthReady || flags.ready),
      inLossWindow: flags.inLossWindow,
      listening: server.listening,
      elapsedMs: runner.elapsed(),
      openSockets: open.size,
      heldUpgrades: held.size,
      counts: { ...counts },
    }),
    until: (mark, timeoutMs = 30_000) =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`sim: timed out after ${timeoutMs} ms waiting for ${mark}`));
        }, timeoutMs);
        const w = {
          mark,
          resolve: (at: number) => (clearTimeout(timer), resolve(at)),
          reject: (e: Error) => (clearTimeout(timer), reject(e)),
        };
        waiters.add(w);
        settleWaiters();
      }),
    close: () => (closing ??= shutdown()),
  };
  return handle;

  async function shutdown(): Promise<void> {
    stopping = true;
    runner.stop();
    releaseHeld(); // 503 "Server shutting down" to anything still held
    for (const ws of open) ws.close(1001, 'Server shutting down');
    if (open.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 250);
        const check = () => open.size === 0 && (clearTimeout(t), resolve());
        for (const ws of open) ws.once('close', () => setImmediate(check));
      });
    }
    for (const ws of open) ws.terminate();
    for (const s of rawSockets) s.destroy();
    wss.close();
    if (server.listening) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    const at = nowEpochMs();
    truth?.write({ type: 'stop', at, atMs: sinceT0(at), counts: { ...counts } });
    truth?.close();
    settleWaiters();
  }
}

function pathOf(req: IncomingMessage): string {
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

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

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

/** Listen on port 0, read the port, close: the refuse profile's port before it may listen. */
function pickFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
