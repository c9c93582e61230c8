/**
 * Dialling the target: TCP, or TLS for wss://, from the attempt's source address and, with one,
 * a source port wsrace picked (source-ports.ts); TCP connect and TLS are stamped here. wsrace's
 * handshake and ws's client both dial through it.
 */
import net from 'node:net';
import tls from 'node:tls';
import { now } from '../util/clock.js';
import { recordMs } from '../record/histogram.js';
import type { AttemptRecord } from '../record/attempt.js';
import { connectQuietly } from './quiet-end.js';
import { isPortTaken } from './source-ports.js';
import type { AttemptHost } from './connection.js';

/** The attempt a socket or WebSocket belongs to: listeners are shared by all, `this` is the socket. */
export const ATTEMPT = Symbol('wsrace.attempt');

/** What dial() needs from the attempt it dials for. */
export interface Dialler {
  readonly host: AttemptHost;
  readonly rec: AttemptRecord;
  /** The source port wsrace picked for the socket dialled last (source-ports.ts); 0: the kernel's pick. */
  pickedPort: number;
  /** The socket can carry the upgrade request now: TCP connected (ws://), or TLS established (wss://). */
  canSend(): void;
}

type DialledSocket = net.Socket & { [ATTEMPT]: Dialler };

/** What dial() passes to tls.connect or net.Socket (ws's client adds socketPath). */
export type DialOptions = net.NetConnectOpts & tls.ConnectionOptions & { socketPath?: string };

/** The source address of attempt `index`'s dials (target.localAddresses, rotated by index); '' when none is set. */
export function sourceAddress(host: AttemptHost, index: number): string {
  const sources = host.settings.localAddresses;
  return sources.length > 0 ? sources[index % sources.length] : '';
}

/**
 * Dials for attempt `a` and stamps TCP connect (and TLS) on the socket. `pickPort`: from a source
 * address, the port is wsrace's pick, not the kernel's (never for ws's client).
 */
export function dial(a: Dialler, options: DialOptions, pickPort = false): net.Socket {
  const address = sourceAddress(a.host, a.rec.i);
  if (address !== '') {
    (options as net.TcpNetConnectOpts).localAddress = address;
    const port = pickPort ? a.host.sourcePorts.next(address) : 0;
    if (port > 0) (options as net.TcpNetConnectOpts).localPort = port;
    a.pickedPort = port;
  }
  let socket: net.Socket;
  if (a.host.templates.tlsOptions !== null) {
    options.path = undefined;
    if (!options.servername && options.servername !== '') options.servername = net.isIP(options.host ?? '') ? '' : options.host;
    socket = tls.connect(options);
  } else {
    (options as net.IpcSocketConnectOpts).path = options.socketPath as string;
    socket = connectQuietly(options);
  }
  (socket as DialledSocket)[ATTEMPT] = a;
  socket.once('connect', onConnect);
  if (socket instanceof tls.TLSSocket) socket.once('secureConnect', onSecureConnect);
  return socket;
}

// TCP connect and TLS: the request goes out first, the bookkeeping can wait for the server.
function onConnect(this: DialledSocket): void {
  const a = this[ATTEMPT];
  const rec = a.rec;
  rec.tcp = now();
  if (!(this instanceof tls.TLSSocket)) a.canSend();
  // A port wsrace picked is the one bound (bind fails otherwise): no getsockname() syscall, and no
  // address object cached on the socket for its lifetime (~90 B; docs/performance.md, "Heap per connection").
  rec.lport = a.pickedPort > 0 ? a.pickedPort : this.localPort;
  recordMs(a.host.histograms.tcpConnect, rec.tcp - (rec.start ?? rec.tcp));
}

function onSecureConnect(this: DialledSocket): void {
  const a = this[ATTEMPT];
  const rec = a.rec;
  rec.tls = now();
  if (rec.tcp !== null) recordMs(a.host.histograms.tlsHandshake, rec.tls - rec.tcp);
  a.canSend();
}

/**
 * Whether a dial failed because the source port wsrace picked was taken after all (EADDRINUSE at
 * bind, EADDRNOTAVAIL at connect: source-ports.ts). If so the port is noted in `portTaken`, its
 * cursor moves on, and the caller dials once more with the kernel's pick: not counted as an error.
 */
export function pickedPortTaken(a: Dialler, err: Error): boolean {
  if (a.pickedPort === 0 || !isPortTaken(err)) return false;
  a.host.sourcePorts.taken(sourceAddress(a.host, a.rec.i));
  a.rec.portTaken = a.pickedPort;
  a.pickedPort = 0;
  return true;
}
