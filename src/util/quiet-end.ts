/**
 * ws ends a socket's receiver on the socket's 'end' and again on its 'close', and the socket
 * itself on 'end', after the close handshake has ended both already. Node's Writable.end() on a
 * stream that has ended and then finished (or been destroyed) builds an error, formatting its
 * message and capturing a stack, and with no callback to hand it to, drops it: three errors per
 * closed socket, and their garbage, a cost a profile shows on either side of a connection
 * (docs/performance.md). These skip only that case, and every other end() is Node's own; a
 * receiver that errored before it ended still builds its error (rare, and harmless). Shared by
 * wsrace's client (engine/quiet-end.ts) and the simulator's server sockets.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import * as ws from 'ws';

/** Whether end() with no arguments would only build an error and drop it (Node 20's Writable.end). */
function endIsMoot(stream: Writable): boolean {
  return stream.writableCorked === 0 && stream.writableEnded && (stream.writableFinished || stream.destroyed);
}

/**
 * Gives ws's Receiver (a Writable; ws exports the class) a quiet end(), for every receiver in
 * this thread. Returns false, changing nothing, if the class is not what this assumes.
 */
export function quietReceiverEnds(): boolean {
  const Receiver = (ws as unknown as { Receiver?: { prototype: Writable } }).Receiver;
  if (!Receiver || Object.getPrototypeOf(Receiver.prototype) !== Writable.prototype) return false;
  if (Object.hasOwn(Receiver.prototype, 'end')) return Receiver.prototype.end === receiverEnd;
  Object.defineProperty(Receiver.prototype, 'end', { configurable: true, writable: true, value: receiverEnd });
  return true;
}

/** `end` made quiet: a call with no arguments that would only build an error returns at once; every other call is `end`'s. */
function quietly<T extends Writable>(end: (...a: unknown[]) => T): (this: T, ...args: unknown[]) => T {
  return function (this: T, ...args: unknown[]): T {
    if (args.length === 0 && endIsMoot(this)) return this;
    return end.apply(this, args);
  };
}

const receiverEnd = quietly(Writable.prototype.end as (...a: unknown[]) => Writable);

/** net.Socket's end(), quiet: wsrace's client sockets (engine/quiet-end.ts) and the simulator's accepted ones share it. */
export const quietNetSocketEnd = quietly(net.Socket.prototype.end as (...a: unknown[]) => net.Socket);

/** A plain net.Socket someone else created (a server's accepted one) gets the quiet end() as its own. */
export function quietSocketEnd(socket: net.Socket): void {
  socket.end = quietNetSocketEnd as net.Socket['end'];
}
