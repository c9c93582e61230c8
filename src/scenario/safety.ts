import net from 'node:net';
import { InputError } from './errors.js';

/** Above this many new connections per second, a non-loopback target must be named explicitly. */
export const MODEST_RATE = 20;

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

/**
 * wsrace is a load generator: a pasted production URL must never get a stress test by accident.
 * Loopback is always allowed; any other host above a modest rate must be in target.allowHosts
 * or named with --yes-really-target.
 */
export function checkTargetAllowed(url: string, peakRate: number, allowHosts: readonly string[], file: string): void {
  const host = new URL(url).hostname;
  if (isLoopback(host) || peakRate <= MODEST_RATE) return;
  const allowed = allowHosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, ''));
  if (allowed.includes(host.toLowerCase().replace(/^\[|\]$/g, ''))) return;
  throw new InputError(
    `${file}: target.url: ${host} is not loopback and the scenario peaks at ${peakRate} connections/s (above ${MODEST_RATE}/s); ` +
      `to load it, name it in target.allowHosts: [${host}] or pass --yes-really-target ${host}`,
  );
}
