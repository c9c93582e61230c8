/**
 * Reads of wsrace's ws:// sockets land in one buffer per thread (net.Socket's `onread`) and are
 * copied out at their size, then handed to the socket's 'data' listeners as Node's Readable would
 * hand them. Node's own path allocates 64 KiB for every read and shrinks it, wraps it, and
 * schedules a nextTick per read (Readable's maybeReadMore), whose drain in Node 20 allocates a
 * Map too: ~480 B of garbage per message and a malloc and realloc per read (docs/performance.md,
 * "Reads into one buffer"). wss:// sockets are TLS's own and read as before. These sockets never
 * set an encoding: a chunk handed straight to 'data' is a Buffer. A read of 4 KiB or less is
 * copied into Node's Buffer pool, so bytes ws keeps of a partial frame hold an 8 KiB pool block.
 */
import type net from 'node:net';

const READ_BUFFER_BYTES = 64 * 1024;
const SHORT_READ = 256;

/** Only this thread's reads use it, one at a time: each is copied out before the next lands. */
const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

/**
 * Whether to go on reading: yes after a chunk handed straight to 'data' (a listener that wants no
 * more pauses the socket, which stops reading), and what push() says after one queued (no once
 * the queue is past its high-water mark, as Node's own path stops).
 */
function onRead(this: net.Socket, n: number, buf: Uint8Array): boolean {
  const chunk = Buffer.allocUnsafe(n);
  // A short read (a stream's reply) is copied byte by byte: a subarray to copy from is an object too.
  if (n <= SHORT_READ) for (let k = 0; k < n; k++) chunk[k] = buf[k];
  else chunk.set(buf.subarray(0, n));
  // Readable's rule (addChunk): a chunk goes straight to 'data' only when the stream flows, nothing
  // is queued before it and someone listens; otherwise it is queued behind what is there (the bytes
  // ws unshifts after a 101, a paused socket), so the order of the bytes never changes.
  if (this.readableFlowing === true && this.readableLength === 0 && this.listenerCount('data') > 0) {
    this.emit('data', chunk);
    return true;
  }
  return this.push(chunk);
}

/** net.Socket's `onread` option for every ws:// socket wsrace dials. */
export const SOCKET_READS: net.OnReadOpts = { buffer: readBuffer, callback: onRead };
