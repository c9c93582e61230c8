import type { SimProfile, StartupProfile } from './config.js';
import type { StartupFlags } from './startup.js';

/**
 * What each profile does with an upgrade to the WebSocket path, decided from the startup flags
 * at the moment the request arrives. Pure, so the whole matrix is testable without sockets.
 *
 *  racy    listening from t=0. Before the bridge is wired (end of `websocket`): 101 then close
 *          1011 "Service not ready: <missing components>". In the loss window (lossWindow
 *          before the bridge): 101 + connection_established, but the first client message is
 *          swallowed, as is every stream ping that arrives before the bridge (stream.ts). From
 *          the bridge on: the protocol. (/health is 200 raceWindow early.)
 *  gated   HTTP 503 + Retry-After: 1 until startup completes, then the protocol.
 *  queued  the upgrade is held until startup completes, then completed.
 *  refuse  nothing listens until startup completes (ECONNREFUSED), then the protocol.
 *  broken  as gated, but a phase times out (seed staging timeouts) and startup fails.
 *  Any profile, once startup has failed: HTTP 503 to everything, for good.
 */

export type UpgradeDecision =
  | { action: 'http_503'; status: 503; reason: string; retryAfter?: number }
  | { action: 'rejected_capacity'; status: 503; reason: string }
  | { action: 'close_1011'; code: 1011; reason: string }
  | { action: 'accept'; lossy: boolean }
  | { action: 'hold' };

export interface UpgradeContext {
  /** Components not ready yet, for the 1011 reason. */
  missing(): string[];
  /** Open sockets plus held upgrades. */
  active: number;
  maxConnections: number;
}

export function decideUpgrade(profile: StartupProfile, flags: StartupFlags, ctx: UpgradeContext): UpgradeDecision {
  if (flags.failed) return { action: 'http_503', status: 503, reason: `Startup failed: ${flags.failReason}` };
  if (ctx.active >= ctx.maxConnections) return { action: 'rejected_capacity', status: 503, reason: `Connection limit reached (${ctx.maxConnections})` };
  switch (profile) {
    case 'racy':
      if (flags.bridgeReady) return { action: 'accept', lossy: false };
      if (flags.inLossWindow) return { action: 'accept', lossy: true };
      return { action: 'close_1011', code: 1011, reason: notReadyReason(ctx.missing()) };
    case 'queued':
      return flags.ready ? { action: 'accept', lossy: false } : { action: 'hold' };
    case 'gated':
    case 'broken':
    case 'refuse':
      // refuse only gets here once listening, i.e. ready; gated is its fallback just in case.
      return flags.ready ? { action: 'accept', lossy: false } : { action: 'http_503', status: 503, reason: 'Service starting', retryAfter: 1 };
  }
}

/** A profile that decides upgrades itself; `rollout` hands each upgrade to one of its revisions, each with a startup profile of its own. */
export function startupProfile(profile: SimProfile): StartupProfile {
  if (profile === 'rollout') throw new Error('sim: a rollout decides upgrades per revision');
  return profile;
}

/** A close reason must fit in 123 bytes: drop trailing components until it does. */
export function notReadyReason(components: string[]): string {
  const list = [...components];
  for (;;) {
    const reason = `Service not ready: ${list.join(', ')}`;
    if (Buffer.byteLength(reason) <= 123 || list.length <= 1) return Buffer.byteLength(reason) <= 123 ? reason : truncateBytes(reason, 123);
    list.pop();
  }
}

function truncateBytes(text: string, max: number): string {
  const buf = Buffer.from(text);
  let end = max;
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--; // don't split a UTF-8 sequence
  return buf.subarray(0, end).toString();
}

/** `Authorization: Bearer …` or a `jwt.<token>` subprotocol, as the backend accepts. */
export function hasCredentials(authorization: string | undefined, protocols: string | undefined): boolean {
  if (authorization && /^Bearer\s+\S+/i.test(authorization)) return true;
  return (protocols ?? '').split(',').some((p) => p.trim().startsWith('jwt.') && p.trim().length > 4);
}

/** Echo `jwt-auth` when offered (as the backend does); otherwise accept the client's first choice. */
export function chooseSubprotocol(offered: Set<string>): string | false {
  if (offered.has('jwt-auth')) return 'jwt-auth';
  const first = offered.values().next();
  return first.done ? false : first.value;
}
