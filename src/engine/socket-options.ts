import type net from 'node:net';
import { SOCKET_READS } from './socket-reads.js';

/** What net.Socket's constructor reads, with the fields it sets itself (Node's types name only some). */
export type SocketOptions = net.NetConnectOpts & { emitClose: boolean; autoDestroy: boolean; decodeStrings: boolean; onread: net.OnReadOpts };

/**
 * The options for net.Socket's constructor: the caller's, with the four fields the constructor
 * sets on its own copy already in place, holding the values it would set, so nothing changes but
 * the copy's hidden class. Node 20's net.Socket copies its options (`{ ...options }`), then adds
 * allowHalfOpen, emitClose, autoDestroy and decodeStrings to the copy; in V8 11.3 a spread copy
 * that gains properties gets a hidden class of its own, so every socket made new maps and every
 * option read in the stream constructors (~30 per socket) missed its inline cache: the runtime,
 * new handlers, old-space garbage. With the fields present the stores only replace values.
 * `onread`: its reads go through one buffer per thread (socket-reads.ts).
 * A socket then costs several times less to make (docs/performance.md, "Notes moved from engine
 * code"); bench/guards.mjs checks that it still holds.
 */
export function socketOptions(options: net.NetConnectOpts): SocketOptions {
  // The fields first, the spread last: a literal that starts with a spread is itself such a copy.
  return { allowHalfOpen: Boolean(options.allowHalfOpen), emitClose: false, autoDestroy: true, decodeStrings: false, onread: SOCKET_READS, ...options };
}
