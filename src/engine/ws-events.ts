/**
 * A WebSocket's listeners kept in an object of fixed shape. Node's EventEmitter starts every
 * emitter's `_events` as `{ __proto__: null }`, which V8 keeps as a dictionary: ~180 B for each
 * open WebSocket, ~160 B more once a fifth event has a listener (a stream's 'message'). Node's own
 * streams pre-set their events much the same way (Readable's constructor). docs/performance.md,
 * "Heap per connection". Unlike Node's, removing a listener deletes its key (EventEmitter's
 * shape mode is private to it), which makes the object a dictionary again: wsrace never removes
 * a WebSocket's listeners. eventNames() lists every preset name once any listener is set.
 */
import type WebSocket from 'ws';

/** Every event ws emits on a WebSocket: a listener for any other name still works (the object then grows). */
function WebSocketEvents(this: Record<string, undefined>): void {
  this.open = undefined;
  this.message = undefined;
  this.ping = undefined;
  this.pong = undefined;
  this.error = undefined;
  this.close = undefined;
  this.upgrade = undefined;
  this['unexpected-response'] = undefined;
  this.redirect = undefined;
}
// No Object.prototype behind it, like Node's own: a listener named `toString` finds nothing inherited.
WebSocketEvents.prototype = Object.create(null) as object;

type Emitter = { _events: object; _eventsCount: number };

/** Gives a WebSocket that has no listener yet the fixed-shape events object; returns it. */
export function withFixedEvents<T extends WebSocket>(ws: T): T {
  const e = ws as unknown as Emitter;
  if (e._eventsCount === 0) e._events = new (WebSocketEvents as unknown as new () => object)();
  return ws;
}
