import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseReceiverFragments } from '../src/engine/receiver-fragments.js';

const waitFor = (emitter: NodeJS.EventEmitter, event: string) => once(emitter, event, { signal: AbortSignal.timeout(5000) });

/** What a message listener got, copied, and the array that gathered it, as it is a turn later: its length, and whether it gathers the next message too. */
interface Seen {
  data: string | string[];
  isBinary: boolean;
  droppedLength: number;
  reused: boolean;
}

let server: WebSocketServer;
let url: string;
beforeAll(async () => {
  // Sends what the client asks for: `text`, `binary`, or `fragmented` (two text frames, then two binary ones).
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('connection', (peer) =>
    peer.on('message', (m) => {
      const ask = String(m);
      if (ask === 'text') peer.send('hello');
      else if (ask === 'binary') peer.send(Buffer.from([1, 2, 3]));
      else {
        peer.send('ab', { fin: false });
        peer.send('cd', { fin: true });
        peer.send(Buffer.from([4]), { binary: true, fin: false });
        peer.send(Buffer.from([5, 6]), { binary: true, fin: true });
      }
    }),
  );
  await waitFor(server, 'listening');
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Opens a client, asks for `ask`, and records the next `count` messages. */
async function receive(ask: string, count: number, binaryType: 'nodebuffer' | 'fragments' = 'nodebuffer'): Promise<Seen[]> {
  const client = new WebSocket(url, { perMessageDeflate: false });
  client.binaryType = binaryType;
  try {
    await waitFor(client, 'open');
    const receiver = (client as unknown as { _receiver: { _fragments: unknown[] } })._receiver;
    const seen: Seen[] = [];
    const done = new Promise<void>((resolve) => {
      // The array that gathers this message's frames, held from before the message arrives: a
      // turn after it, it shows what was dropped (ws swaps in a fresh one during the listener's
      // call, so the next is taken a turn later).
      let gathering = receiver._fragments;
      client.on('message', (data, isBinary) => {
        const copy = Array.isArray(data) ? data.map((b) => b.toString('hex')) : isBinary ? (data as Buffer).toString('hex') : String(data);
        const dropped = gathering;
        setImmediate(() => {
          seen.push({ data: copy, isBinary, droppedLength: dropped.length, reused: receiver._fragments === dropped });
          gathering = receiver._fragments;
          if (seen.length === count) resolve();
        });
      });
    });
    client.send(ask);
    await done;
    return seen;
  } finally {
    client.terminate();
  }
}

describe('ws’s receivers, as shipped and releasing their fragments', () => {
  it('as shipped, the array a message leaves behind still holds its buffer (why receiver-fragments.ts exists)', async () => {
    const seen = await receive('text', 1);
    expect(seen).toEqual([{ data: 'hello', isBinary: false, droppedLength: 1, reused: false }]);
  });

  it('releaseReceiverFragments() empties it and gathers the next message in it, idempotent; text, binary and fragmented messages arrive whole', async () => {
    expect(releaseReceiverFragments()).toBe(true);
    expect(releaseReceiverFragments()).toBe(true);
    expect(await receive('text', 1)).toEqual([{ data: 'hello', isBinary: false, droppedLength: 0, reused: true }]);
    expect(await receive('binary', 1)).toEqual([{ data: '010203', isBinary: true, droppedLength: 0, reused: true }]);
    expect(await receive('fragmented', 2)).toEqual([
      { data: 'abcd', isBinary: false, droppedLength: 0, reused: true },
      { data: '040506', isBinary: true, droppedLength: 0, reused: true },
    ]);
  });

  it("with binaryType 'fragments' a binary message is the array itself: a receiver of that type leaves every array as it was", async () => {
    expect(releaseReceiverFragments()).toBe(true);
    expect(await receive('fragmented', 2, 'fragments')).toEqual([
      { data: 'abcd', isBinary: false, droppedLength: 2, reused: false },
      { data: ['04', '0506'], isBinary: true, droppedLength: 2, reused: false },
    ]);
  });
});
