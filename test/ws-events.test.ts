import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { adoptableWebSocket } from '../src/engine/handshake.js';
import { withFixedEvents } from '../src/engine/ws-events.js';

type Events = { _events: Record<string, unknown> };

describe('ws-events: a WebSocket’s listeners in an object of fixed shape', () => {
  it('is what wsrace’s WebSockets start with, and every event ws emits reaches its listener', () => {
    const ws = adoptableWebSocket('', 1000);
    // Not EventEmitter's `{ __proto__: null }` (a dictionary to V8): an instance whose prototype has none.
    const proto = Object.getPrototypeOf((ws as unknown as Events)._events) as object | null;
    expect(proto).not.toBe(null);
    expect(Object.getPrototypeOf(proto)).toBe(null);
    const heard: string[] = [];
    for (const name of ['open', 'message', 'ping', 'pong', 'error', 'close', 'upgrade', 'unexpected-response', 'redirect']) ws.on(name, () => heard.push(name));
    for (const name of ['open', 'message', 'ping', 'pong', 'error', 'close', 'upgrade', 'unexpected-response', 'redirect']) ws.emit(name);
    expect(heard).toEqual(['open', 'message', 'ping', 'pong', 'error', 'close', 'upgrade', 'unexpected-response', 'redirect']);
    expect(ws.listenerCount('message')).toBe(1);
  });

  it('inherits nothing, like Node’s own: an event named after an Object method has no listener', () => {
    const ws = adoptableWebSocket('', 1000);
    expect(ws.listenerCount('toString')).toBe(0);
    expect(ws.listenerCount('constructor')).toBe(0);
    expect(ws.emit('hasOwnProperty')).toBe(false);
  });

  it('takes listeners for other names too, and counts them, and they can be removed', () => {
    const ws = adoptableWebSocket('', 1000);
    let n = 0;
    const listener = (): number => n++;
    ws.on('custom' as 'open', listener);
    ws.on('custom' as 'open', listener);
    expect(ws.emit('custom')).toBe(true);
    expect(n).toBe(2);
    ws.removeAllListeners('custom');
    expect(ws.emit('custom')).toBe(false);
  });

  it('leaves an emitter that already has a listener as it is', () => {
    const ws = new EventEmitter() as unknown as WebSocket;
    const listener = (): void => undefined;
    ws.on('open', listener);
    const before = (ws as unknown as Events)._events;
    withFixedEvents(ws);
    expect((ws as unknown as Events)._events).toBe(before);
    expect(ws.listeners('open')).toEqual([listener]);
  });
});
