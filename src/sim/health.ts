import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StartupFlags } from './startup.js';

/**
 * The backend's health endpoints. /health, /health/ready and /health/startup share one answer;
 * /health/live is 200 whenever the process answers at all.
 *
 * In the racy profile `healthReady` turns true raceWindow before the bridge is wired, so the
 * 200 arrives while the phase is still `websocket` and /ws still closes with 1011: the body then
 * names the real phase (not `ready`), which is exactly the lie a readiness probe tells.
 */

export const HEALTH_PATHS = new Set(['/health', '/health/ready', '/health/startup']);

export interface HealthView {
  flags: StartupFlags;
  /** Model seconds since t0, for the "taking too long" message. */
  modelElapsedS(): number;
  slowStartupAfter: number;
}

export function healthBody(view: HealthView): { status: number; body: Record<string, unknown> } {
  const f = view.flags;
  if (f.failed) {
    return { status: 503, body: { status: 'unhealthy', message: `Startup failed: ${f.failReason}`, startup_failed: true, details: { phase: f.phase } } };
  }
  if (f.healthReady || f.ready) return { status: 200, body: { status: 'healthy', details: { phase: f.phase } } };
  const slow = view.modelElapsedS() > view.slowStartupAfter;
  return {
    status: 503,
    body: {
      status: 'unhealthy',
      message: slow ? 'Startup taking too long - possible timeout' : 'Startup in progress',
      startup_in_progress: true,
      details: { phase: f.phase },
    },
  };
}

/** Answers a plain HTTP request; returns false if the path is not a health path. */
export function handleHealth(req: IncomingMessage, res: ServerResponse, pathname: string, view: HealthView): boolean {
  if (pathname === '/health/live') {
    send(res, 200, { status: 'alive', details: { phase: view.flags.phase } });
    return true;
  }
  if (!HEALTH_PATHS.has(pathname)) return false;
  const { status, body } = healthBody(view);
  send(res, status, body, req.method === 'HEAD');
  return true;
}

/** A plain HTTP request to the simulator: health, else 426 on the WebSocket path, else 404. */
export function answerHttp(req: IncomingMessage, res: ServerResponse, pathname: string, wsPath: string, view: HealthView): void {
  if (handleHealth(req, res, pathname, view)) return;
  if (pathname === wsPath) {
    res.setHeader('upgrade', 'websocket');
    return send(res, 426, { detail: 'Upgrade Required' });
  }
  send(res, 404, { detail: 'Not Found' });
}

export function send(res: ServerResponse, status: number, body: unknown, headOnly = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(headOnly ? undefined : text);
}
