import net from 'node:net';

/** Most source addresses a rotation may list (a /16), to keep a typo from exhausting memory. */
const MAX_ADDRESSES = 65_536;

const toInt = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/**
 * Expands source addresses for rotation: a list of IPv4 addresses, ranges (`127.0.0.2-127.0.0.40`)
 * and CIDR blocks (`127.0.1.0/24`), or IPv6 addresses listed one by one. Throws an Error saying
 * what was expected.
 */
export function expandAddresses(items: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of items.flatMap((i) => i.split(','))) {
    const item = raw.trim();
    if (!item) continue;
    let range: [number, number] | null;
    const dash = /^(\d+\.\d+\.\d+\.\d+)\s*-\s*(\d+\.\d+\.\d+\.\d+)$/.exec(item);
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(item);
    if (dash && net.isIPv4(dash[1]) && net.isIPv4(dash[2])) range = [toInt(dash[1]), toInt(dash[2])];
    else if (cidr && net.isIPv4(cidr[1]) && Number(cidr[2]) <= 32) {
      const size = 2 ** (32 - Number(cidr[2]));
      const base = Math.floor(toInt(cidr[1]) / size) * size;
      range = [base, base + size - 1];
    } else if (net.isIP(item)) {
      out.push(item);
      continue;
    } else throw new Error(`expected an IP address, a range like 127.0.0.2-127.0.0.40 or a CIDR block like 127.0.1.0/24, found "${item}"`);
    if (range[1] < range[0]) throw new Error(`expected a range from low to high, found "${item}"`);
    if (range[1] - range[0] + 1 + out.length > MAX_ADDRESSES) throw new Error(`expected at most ${MAX_ADDRESSES} source addresses, found "${item}" (${range[1] - range[0] + 1})`);
    for (let n = range[0]; n <= range[1]; n++) out.push(toIp(n));
  }
  return out;
}
