import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectQuietly } from '../src/engine/quiet-end.js';
import { SOCKET_READS } from '../src/engine/socket-reads.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A loopback server that runs `onSocket` for each connection; resolves its port. */
async function serve(onSocket: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer(onSocket);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening', { signal: AbortSignal.timeout(5000) });
  return (server.address() as net.AddressInfo).port;
}

/** Everything a socket reads until it closes, and whether 'end' came. */
async function readAll(socket: net.Socket): Promise<{ bytes: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [];
  let ended = false;
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('end', () => (ended = true));
  await once(socket, 'close', { signal: AbortSignal.timeout(10_000) });
  return { bytes: Buffer.concat(chunks), ended };
}

/** `n` bytes counting from `seed`, so two streams' bytes differ everywhere. */
const pattern = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, k) => (k * 7 + seed) & 0xff));

describe('socket-reads: a ws:// socket’s reads through one buffer per thread', () => {
  it('hands each socket its own bytes, in order, when two sockets read more than the buffer at once', async () => {
    const a = pattern(300_000, 1);
    const b = pattern(300_000, 2);
    const port = await serve((s) => s.end(s.remotePort! % 2 === 0 ? a : b));
    // Read at construction: the sockets made below read through the spy.
    const reads = vi.spyOn(SOCKET_READS, 'callback');
    const sockets = [connectQuietly({ host: '127.0.0.1', port }), connectQuietly({ host: '127.0.0.1', port })];
    const ports = sockets.map((s) => once(s, 'connect').then(() => s.localPort!));
    const read = await Promise.all(sockets.map(readAll));
    for (let k = 0; k < 2; k++) {
      expect(read[k].ended).toBe(true);
      expect(read[k].bytes.equals((await ports[k]) % 2 === 0 ? a : b)).toBe(true);
    }
    // 600,000 bytes through a 64 KiB buffer: at least ten reads, every byte copied out by it.
    expect(reads.mock.calls.length).toBeGreaterThanOrEqual(10);
    expect(reads.mock.calls.reduce((n, [bytes]) => n + bytes, 0)).toBe(600_000);
    reads.mockRestore();
  });

  it('keeps bytes queued before a read in front of it (ws unshifts what came with the 101)', async () => {
    const port = await serve(() => undefined);
    const socket = connectQuietly({ host: '127.0.0.1', port });
    await once(socket, 'connect', { signal: AbortSignal.timeout(5000) });
    socket.unshift(Buffer.from('head:'));
    const chunks: string[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d.toString()));
    // A read that lands before the stream has flushed what was unshifted (it does so on the next tick).
    const landed = Buffer.from('next');
    expect(SOCKET_READS.callback.call(socket, landed.length, landed)).toBe(true);
    expect(chunks).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(chunks.join('')).toBe('head:next');
    socket.destroy();
  });

  it('stops reading while paused and goes on, in order, once resumed', async () => {
    let peer: net.Socket | null = null;
    const port = await serve((s) => {
      peer = s;
      s.write('first;');
    });
    const socket = connectQuietly({ host: '127.0.0.1', port });
    const chunks: string[] = [];
    socket.on('data', (d: Buffer) => {
      chunks.push(d.toString());
      socket.pause();
      peer!.end('second');
    });
    await once(socket, 'pause', { signal: AbortSignal.timeout(5000) });
    expect(chunks).toEqual(['first;']);
    socket.removeAllListeners('data');
    const rest = readAll(socket);
    socket.resume();
    const { bytes, ended } = await rest;
    expect(bytes.toString()).toBe('second');
    expect(ended).toBe(true);
  });
});
