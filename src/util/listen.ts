/** host:port as --metrics-listen takes it ("127.0.0.1:9464", "[::1]:9464", ":9464" for every address). */
export function parseListen(text: string): { host: string | undefined; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}
