// The bench's plain clients name their source port as wsrace does (src/engine/source-ports.ts):
// left to the kernel, every bind() from a source address searches that address's ports, and
// once ~7,000 of them are taken (TIME_WAIT included) each search walks them all. A client that
// binds port 0 would be measuring that search, not itself.
import { readFileSync } from 'node:fs';

/** A function answering the next port of the kernel's ephemeral range, from a random offset. */
export function sourcePortPicker() {
  let [low, high] = [32768, 60999];
  try {
    [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  } catch {
    // not Linux: the kernel's default range
  }
  let port = low + Math.floor(Math.random() * (high - low + 1));
  return () => (port = port >= high ? low : port + 1);
}
