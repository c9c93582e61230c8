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
    // The first connection the server takes gets `a`, the second `b`: the two reads interleave.
    let taken = 0;
    const port = await serve((s) => s.end(taken++ === 0 ? a : b));
    // Read at construction: the sockets made below read through the spy.
    const reads = vi.spyOn(SOCKET_READS, 'callback');
    const sockets = [connectQuietly({ host: '127.0.0.1', port }), connectQuietly({ host: '127.0.0.1', port })];
    const read = await Promise.all(sockets.map(readAll));
    expect(read.every((r) => r.ended)).toBe(true);
    // One socket has exactly `a` and the other exactly `b`: a byte of one in the other fails both.
    const got = read.map((r) => (r.bytes.equals(a) ? 'a' : r.bytes.equals(b) ? 'b' : 'mixed')).sort();
    expect(got).toEqual(['a', 'b']);
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

  it('stops reading while paused, and goes on in order once resumed', async () => {
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
    });
    await once(socket, 'pause', { signal: AbortSignal.timeout(5000) });
    // A loopback write lands in this socket's kernel buffer before write() returns; a socket still
    // reading would take it on the loop's next poll, queued while paused. Two turns hold a poll.
    peer!.write('second');
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(socket.readableLength).toBe(0);
    expect(chunks).toEqual(['first;']);
    socket.removeAllListeners('data');
    const rest = readAll(socket);
    peer!.end();
    socket.resume();
    const { bytes, ended } = await rest;
    expect(bytes.toString()).toBe('second');
    expect(ended).toBe(true);
  });

  it('stops reading once what it queued passes the high-water mark, as Node’s own reads do', async () => {
    const big = pattern(4 * 1024 * 1024, 3);
    const port = await serve((s) => s.end(big));
    // No 'data' listener: the socket does not flow, so every read is queued.
    const socket = connectQuietly({ host: '127.0.0.1', port });
    await once(socket, 'readable', { signal: AbortSignal.timeout(5000) });
    let most = 0;
    for (let turn = 0; turn < 50; turn++) {
      most = Math.max(most, socket.readableLength);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // At most the mark plus the one read that crossed it (reads land in a 64 KiB buffer).
    expect(most).toBeLessThanOrEqual(socket.readableHighWaterMark + 64 * 1024);
    const rest = readAll(socket);
    const { bytes } = await rest;
    expect(bytes.equals(big)).toBe(true);
  });
});
