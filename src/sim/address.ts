import type { Server } from 'node:http';

/** The simulator's URLs from its host and port (an IPv6 host in brackets). */
export function wsUrl(host: string, port: number, path: string): string {
  return `ws://${inUrl(host)}:${port}${path}`;
}

export function httpUrl(host: string, port: number): string {
  return `http://${inUrl(host)}:${port}`;
}

function inUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The simulator's accept queue (the kernel caps it at net.core.somaxconn). Node's 511 overflowed
 * when a reconnect herd met a simulator short of CPU on the tester's own machine: the kernel
 * dropped SYNs, and clients waited 1, 3, 7 s for retransmits and timed out. A platform's front
 * end queues connections instead; a deep queue makes a busy simulator slow to answer, not absent.
 */
export const SIM_BACKLOG = 4096;

/** Listens, or rejects with the bind error (a port taken). */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: SIM_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops listening and ends every connection still open (keep-alive health probes too). */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
