/**
 * Local ports for sockets dialled from a source address (target.localAddresses), picked by
 * wsrace instead of the kernel.
 *
 * Why: a socket bound to an address with port 0 gets its port from Linux's search of the
 * ephemeral range (inet_csk_find_open_port). libuv sets SO_REUSEADDR on every bind, so the search
 * starts in the lower half of the range, odd ports first, and any port of that address still
 * held, TIME_WAIT included, is skipped one by one. Once thousands of those ports are taken
 * (seconds into a run from one address), every bind() walks all of them, and a worker falls behind
 * by seconds (docs/performance.md, "Notes moved from engine code").
 *
 * A port named in bind() costs one lookup, and Linux lets it be bound while the same address and
 * port are in TIME_WAIT (both sockets have SO_REUSEADDR); connect() then reuses a TIME_WAIT
 * 4-tuple of its own when TCP timestamps were seen. So each worker walks its own slice of the
 * range (its stripe's: workers and shards never share one), with a cursor per source address. A
 * port taken after all (a listener on it, a socket without SO_REUSEADDR, another program's or
 * one of ours still open to the same destination) fails the dial with EADDRINUSE at bind or
 * EADDRNOTAVAIL at connect: the attempt dials once more with the kernel's pick, and the cursor
 * jumps to a random place in the slice, so one busy stretch of ports costs one retry, not one per
 * attempt.
 *
 * Linux only: elsewhere the kernel picks, as before, unless WSRACE_LOCAL_PORTS names a range.
 */
import { readFileSync } from 'node:fs';

/** Inclusive port bounds. */
export interface PortRange {
  readonly low: number;
  readonly high: number;
}

/** The kernel's ephemeral range when /proc cannot be read. */
const LINUX_DEFAULT: PortRange = { low: 32768, high: 60999 };
/** Below this a bind needs privileges: no range may reach into it. */
const LOWEST_PORT = 1024;

/** Whether a dial failed because its picked source port was taken: bind EADDRINUSE, connect EADDRNOTAVAIL. */
export function isPortTaken(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | null;
  return (e?.syscall === 'bind' && e.code === 'EADDRINUSE') || (e?.syscall === 'connect' && e.code === 'EADDRNOTAVAIL');
}

/** Parses "32768 60999" or "40000-40999" (inclusive); null when it is not a range of ports. */
export function parsePortRange(text: string, lowest = 1): PortRange | null {
  const m = /^\s*(\d+)\s*(?:-|\s)\s*(\d+)\s*$/.exec(text);
  if (!m) return null;
  const low = Number(m[1]);
  const high = Number(m[2]);
  return low >= lowest && low <= high && high <= 65535 ? { low, high } : null;
}

/** Parses ip_local_reserved_ports ("8080,9000-9010", or empty) into ranges; bad pieces are left out. */
export function parseReservedPorts(text: string): PortRange[] {
  const out: PortRange[] = [];
  for (const piece of text.split(',')) {
    if (!piece.trim()) continue;
    const one = /^\s*(\d+)\s*$/.exec(piece);
    const r = one ? parsePortRange(`${one[1]}-${one[1]}`) : parsePortRange(piece);
    if (r) out.push(r);
  }
  return out;
}

/**
 * The ports wsrace picks from, or null to leave them to the kernel. WSRACE_LOCAL_PORTS overrides
 * it (tests and comparisons): "kernel", or a range "low-high" that replaces the kernel's.
 * Throws on any other value.
 */
export function sourcePortRange(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): PortRange | null {
  const forced = env.WSRACE_LOCAL_PORTS;
  if (forced === 'kernel') return null;
  if (forced !== undefined) {
    const range = parsePortRange(forced, LOWEST_PORT);
    if (!range) throw new Error(`WSRACE_LOCAL_PORTS=${forced}: expected "kernel" or a port range "low-high" within ${LOWEST_PORT}-65535`);
    return range;
  }
  if (platform !== 'linux') return null;
  try {
    return parsePortRange(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'), LOWEST_PORT) ?? LINUX_DEFAULT;
  } catch {
    return LINUX_DEFAULT;
  }
}

/** Read once per thread: a worker's rehearsal and its run each make a SourcePorts. */
let reservedRead: PortRange[] | undefined;
function reservedPorts(): PortRange[] {
  if (reservedRead) return reservedRead;
  try {
    reservedRead = parseReservedPorts(readFileSync('/proc/sys/net/ipv4/ip_local_reserved_ports', 'utf8'));
  } catch {
    reservedRead = [];
  }
  return reservedRead;
}

/** Slice `index` of `count` of a range: contiguous, sizes differing by one at most (the whole range if it has fewer ports than slices). */
export function sliceOf(range: PortRange, index: number, count: number): PortRange {
  const size = range.high - range.low + 1;
  if (count <= 1 || size < count) return range;
  return { low: range.low + Math.floor((size * index) / count), high: range.low + Math.floor((size * (index + 1)) / count) - 1 };
}

/** One worker's cursors: the next port for each source address, in its slice of the range. */
export class SourcePorts {
  private readonly cursors = new Map<string, number>();

  /** `range` null: next() always answers 0 (the kernel picks). Ports in `reserved` are skipped. */
  constructor(
    private readonly range: PortRange | null,
    private readonly reserved: readonly PortRange[] = range ? reservedPorts() : [],
    private readonly random: () => number = Math.random,
  ) {}

  /** The port to bind for a socket from `address`: 0 when the kernel should pick. */
  next(address: string): number {
    const r = this.range;
    if (!r) return 0;
    const size = r.high - r.low + 1;
    let port = this.cursors.get(address) ?? this.anywhere();
    // Skip reserved ports; a range that is all reserved leaves the choice to the kernel.
    for (let tries = 0; this.isReserved(port); tries++) {
      if (tries >= size) return 0;
      port = this.after(port);
    }
    this.cursors.set(address, this.after(port));
    return port;
  }

  /** The port after `port`, round the range. */
  private after(port: number): number {
    return port >= this.range!.high ? this.range!.low : port + 1;
  }

  /** The port just picked for `address` was taken: go on from a random place instead of the ports after it. */
  taken(address: string): void {
    if (this.range) this.cursors.set(address, this.anywhere());
  }

  private anywhere(): number {
    const r = this.range!;
    return r.low + Math.floor(this.random() * (r.high - r.low + 1));
  }

  private isReserved(port: number): boolean {
    for (const x of this.reserved) if (port >= x.low && port <= x.high) return true;
    return false;
  }
}
