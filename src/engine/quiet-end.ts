/**
 * wsrace's client sockets with quiet ends (util/quiet-end.ts says why): every ws:// socket is a
 * QuietEndSocket, and the receivers are made quiet once per thread (worker-init.ts). wss://
 * sockets are tls.connect's own TLSSockets and keep Node's end(); their receivers are quiet all
 * the same.
 */
import net from 'node:net';
import { quietNetSocketEnd, quietReceiverEnds } from '../util/quiet-end.js';
import { socketOptions } from './socket-options.js';

export { quietReceiverEnds };

/** A TCP socket whose redundant end() calls cost nothing; otherwise net.Socket. */
export class QuietEndSocket extends net.Socket {
  override end(...args: unknown[]): this {
    return quietNetSocketEnd.apply(this, args) as this;
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
