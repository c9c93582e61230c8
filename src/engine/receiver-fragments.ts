/**
 * What a message leaves in ws's Receiver, released once the message is out.
 * - `_fragments` gathers a message's frames; once it is whole, ws swaps in a new array and drops
 *   the old one, still holding the message's buffer. A socket's array lives from one message to
 *   the next, so with messages a second apart it has been promoted to the old generation by
 *   then; dead there, it keeps the buffer (and the read chunk behind it) alive through every
 *   scavenge until the next full collection, and the scavenges promote them too. Emptying the
 *   dropped array lets the young generation free them: a streaming worker promoted ~2.9 MB a
 *   second at 8,000 messages a second as shipped, ~0.1 MB with this. The emptied array then
 *   takes the place of the fresh one ws swapped in, which would itself be promoted (32 B a
 *   message at 16,000 a second: ~0.5 MB a second).
 * - `_buffers`, the chunks read and not yet parsed, keeps the 17-slot store its first push made
 *   once it is empty again (~150 B a socket for the socket's life); setting its length to 0 frees it.
 * (docs/performance.md, "Message streams".)
 */
import * as ws from 'ws';

interface ReceiverLike {
  _fragments: unknown[];
  _buffers: unknown[];
  _binaryType: string;
  dataMessage(cb: (err?: Error) => void): void;
}

let shipped: ReceiverLike['dataMessage'] | null = null;

function dataMessage(this: ReceiverLike, cb: (err?: Error) => void): void {
  const fragments = this._fragments;
  // Read before the call: a listener may change it, and the array it was handed must stay whole.
  const binaryType = this._binaryType;
  shipped!.call(this, cb);
  // With binaryType 'fragments' the array itself is the message the listener got: it stays.
  if (this._fragments !== fragments && binaryType !== 'fragments') {
    fragments.length = 0;
    // ws's fresh array would live until the next message and be promoted, 32 B a message to
    // die in the old generation; the emptied one is already there.
    this._fragments = fragments;
  }
  // Already 0 when every chunk read is parsed; set again, V8 lets go of the store behind it.
  if (this._buffers.length === 0) this._buffers.length = 0;
}

/**
 * Makes every ws Receiver in this thread empty the fragments array it drops and free its
 * buffers' store. Returns false, changing nothing, if the Receiver is not what this assumes (no
 * dataMessage, `_fragments` or `_buffers`).
 */
export function releaseReceiverFragments(): boolean {
  const Receiver = (ws as unknown as { Receiver?: new () => ReceiverLike }).Receiver;
  if (!Receiver) return false;
  const proto = Receiver.prototype;
  if (proto.dataMessage === dataMessage) return true;
  if (typeof proto.dataMessage !== 'function') return false;
  const probe = new Receiver();
  if (!Array.isArray(probe._fragments) || !Array.isArray(probe._buffers)) return false;
  shipped = proto.dataMessage;
  Object.defineProperty(proto, 'dataMessage', { configurable: true, writable: true, value: dataMessage });
  return true;
}
