/**
 * ws ends a socket's receiver on the socket's 'end' and again on its 'close', and the socket
 * itself on 'end', after the close handshake has ended both already. Node's Writable.end() on a
 * stream that has ended and then finished (or been destroyed) builds an error, formatting its
 * message and capturing a stack, and with no callback to hand it to, drops it: three errors per
 * closed socket, and their garbage, a cost a worker's profile shows (docs/performance.md). These
 * skip only that case, and every other end() is Node's own; a receiver that errored before it
 * ended still builds its error (rare, and harmless). wss:// sockets are tls.connect's own
 * TLSSockets and keep Node's end(); their receivers are quiet all the same.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import * as ws from 'ws';
import { socketOptions } from './socket-options.js';

/** Whether end() with no arguments would only build an error and drop it (Node 20's Writable.end). */
function endIsMoot(stream: Writable): boolean {
  return stream.writableCorked === 0 && stream.writableEnded && (stream.writableFinished || stream.destroyed);
}

/** A TCP socket whose redundant end() calls cost nothing; otherwise net.Socket. */
export class QuietEndSocket extends net.Socket {
  override end(...args: unknown[]): this {
    if (args.length === 0 && endIsMoot(this)) return this;
    return (super.end as (...a: unknown[]) => this)(...args);
  }
}

/**
 * net.connect(options) with a QuietEndSocket, for ws:// and ws+unix://, whose constructor gets
 * socketOptions(options) (socket-options.ts: one hidden class for every socket). Unlike net.connect it
 * neither applies `options.timeout` (dial() never passes one: handshake timeouts are wsrace's
 * deadline queue) nor publishes to the `net.client.socket` diagnostics channel.
 */
export function connectQuietly(options: net.NetConnectOpts): net.Socket {
  return new QuietEndSocket(socketOptions(options)).connect(options);
}

/**
 * Gives ws's Receiver (a Writable; ws exports the class) the same end(), for every receiver in
 * this thread. Returns false, changing nothing, if the class is not what this assumes.
 */
export function quietReceiverEnds(): boolean {
  const Receiver = (ws as unknown as { Receiver?: { prototype: Writable } }).Receiver;
  if (!Receiver || Object.getPrototypeOf(Receiver.prototype) !== Writable.prototype) return false;
  if (Object.hasOwn(Receiver.prototype, 'end')) return Receiver.prototype.end === receiverEnd;
  Object.defineProperty(Receiver.prototype, 'end', { configurable: true, writable: true, value: receiverEnd });
  return true;
}

function receiverEnd(this: Writable, ...args: unknown[]): Writable {
  if (args.length === 0 && endIsMoot(this)) return this;
  return (Writable.prototype.end as (...a: unknown[]) => Writable).apply(this, args);
}
