/** The simulator's URLs from its host and port (an IPv6 host in brackets). */
export function wsUrl(host: string, port: number, path: string): string {
  return `ws://${inUrl(host)}:${port}${path}`;
}

export function httpUrl(host: string, port: number): string {
  return `http://${inUrl(host)}:${port}`;
}

function inUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
