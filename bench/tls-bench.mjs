// wss:// in the bench (BENCH_ONLY=tls): a P-256 certificate made here (openssl when present, else
// node's crypto), the echo server with --tls, and in each repeat, over TLS: the plain ws floor,
// the raw floor's top (raw-floor.mjs), wsrace's climb up fractions of the raw floor (the same
// on-schedule rule as ws://), the TLS handshake's share of wsrace's handshake at its top rate
// (summary.json's tlsHandshakeMs against handshakeMs), and each peer's climb. Peers are passed
// in as runners, so any tool that can be driven at a rate plugs in.
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { rawRun, rawTop } from './raw-floor.mjs';

/** @typedef {import('./raw-floor.mjs').Kit} Kit */
/** @typedef {import('./run.mjs').EchoServer} EchoServer */
/** @typedef {import('../dist/record/histogram.js').LatencyStats} LatencyStats */
/**
 * A peer driven on schedule at `rate` for `seconds` against a wss:// URL whose certificate is
 * `caFile` (the runner decides how its tool trusts it). It answers whether it kept the schedule
 * (the bench's rule for peers: every socket created and opened, no errors, lag p99 after the
 * first second ≤ 10 ms), or null when the tool failed to run: it is skipped from then on.
 * @typedef {{ name: string, run: (url: string, rate: number, seconds: number, tls: { caFile: string }) => ({ ok: boolean, sustainedP99: number | null, opened: number, scheduled: number, errors: number } | null) } | { name: string, skipped: string }} PeerRunner
 */

/**
 * Writes DIR/key.pem and DIR/cert.pem: a self-signed P-256 certificate for 127.0.0.1, valid a day.
 * @param {string} dir
 * @returns {'openssl' | 'node'} what made it
 */
export function makeCertificate(dir) {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore', timeout: 30_000 });
    return 'openssl';
  }
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  writeFileSync(key, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(cert, selfSigned(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()));
  return 'node';
}

/**
 * A self-signed X.509 v3 certificate (CN=localhost, subjectAltName IP 127.0.0.1, CA:TRUE so it is
 * its own trust anchor) in DER built by hand: node's crypto signs and parses certificates but
 * makes none.
 * @param {string} keyPem a P-256 private key
 * @returns {string} the certificate, PEM
 */
export function selfSigned(keyPem) {
  const privateKey = createPrivateKey(keyPem);
  /** @param {number} n */
  const len = (n) => (n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]));
  /** @param {number} tag @param {...Buffer} parts */
  const tlv = (tag, ...parts) => {
    const body = Buffer.concat(parts);
    return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
  };
  /** @param {...Buffer} parts */
  const seq = (...parts) => tlv(0x30, ...parts);
  /** @param {string} dotted */
  const oid = (dotted) => {
    const [a, b, ...rest] = dotted.split('.').map(Number);
    const bytes = [40 * a + b];
    for (const n of rest) {
      const groups = [n & 0x7f];
      for (let v = n >> 7; v > 0; v >>= 7) groups.unshift((v & 0x7f) | 0x80);
      bytes.push(...groups);
    }
    return tlv(0x06, Buffer.from(bytes));
  };
  /** @param {Date} d */
  const utcTime = (d) => tlv(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`));
  const serial = randomBytes(8);
  serial[0] &= 0x7f; // a positive INTEGER
  const ecdsaSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('localhost')))));
  const now = Date.now();
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const extensions = tlv(
    0xa3,
    seq(
      seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq(tlv(0x01, Buffer.from([0xff]))))), // basicConstraints, critical: CA
      seq(oid('2.5.29.17'), tlv(0x04, seq(tlv(0x87, Buffer.from([127, 0, 0, 1]))))), // subjectAltName: IP 127.0.0.1
    ),
  );
  const tbs = seq(tlv(0xa0, tlv(0x02, Buffer.from([2]))), tlv(0x02, serial), ecdsaSha256, name, seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 86_400_000))), name, Buffer.from(spki), extensions);
  const der = seq(tbs, ecdsaSha256, tlv(0x03, Buffer.from([0]), sign('sha256', tbs, privateKey)));
  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
  const x509 = new X509Certificate(pem);
  if (!x509.verify(createPublicKey(privateKey)) || x509.checkIP('127.0.0.1') !== '127.0.0.1') throw new Error('the self-signed certificate made here does not check out');
  return pem;
}

/**
 * The TLS handshake's part of wsrace's handshake (dial → open): by means, which add up (TCP
 * connect + TLS + upgrade + the rest), and by p50s, which do not but are what a reader sees.
 * @param {{ handshakeMs: LatencyStats, tcpConnectMs: LatencyStats, tlsHandshakeMs: LatencyStats }} s
 */
function tlsShare(s) {
  /** @param {number | null} a @param {number | null} b */
  const ratio = (a, b) => (a !== null && b ? +(a / b).toFixed(3) : null);
  /** @param {number | null} x */
  const ms = (x) => (x === null ? null : +x.toFixed(3));
  return {
    byMean: ratio(s.tlsHandshakeMs.mean, s.handshakeMs.mean),
    byP50: ratio(s.tlsHandshakeMs.p50, s.handshakeMs.p50),
    tlsMs: { mean: ms(s.tlsHandshakeMs.mean), p50: ms(s.tlsHandshakeMs.p50), p99: ms(s.tlsHandshakeMs.p99) },
    tcpConnectMs: { mean: ms(s.tcpConnectMs.mean), p50: ms(s.tcpConnectMs.p50), p99: ms(s.tcpConnectMs.p99) },
    handshakeMs: { mean: ms(s.handshakeMs.mean), p50: ms(s.handshakeMs.p50), p99: ms(s.handshakeMs.p99) },
  };
}

/**
 * One repeat's ladder for a peer over TLS: fractions of the raw floor while it keeps the
 * schedule, then (full runs) two bisection steps. Null: the peer failed to run.
 * @param {Extract<PeerRunner, { run: unknown }>} peer
 * @param {EchoServer & { ca: string }} server
 * @param {number} base the raw floor over TLS, this repeat
 * @param {number} r
 * @param {Kit} kit
 */
export function climbPeerOverTls(peer, server, base, r, kit) {
  let best = 0;
  /** @type {number | null} */
  let failed = null;
  /** @param {number} rate @param {string} label */
  const attempt = (rate, label) => {
    const p = peer.run(server.url, rate, kit.seconds, { caFile: server.ca });
    if (p) kit.log(`peer ${peer.name} over TLS run ${r + 1} at ${rate}/s (${label}): sustained lag p99 ${p.sustainedP99} ms, opened ${p.opened}/${p.scheduled}, errors ${p.errors} → ${p.ok ? 'on schedule' : 'behind'}`);
    return p;
  };
  for (const f of kit.quick ? [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7] : [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0]) {
    const rate = Math.max(1, Math.round(base * f));
    const p = attempt(rate, `${f}× raw floor`);
    if (!p) return null;
    if (!p.ok) {
      failed = rate;
      break;
    }
    best = rate;
  }
  for (let step = 0; step < (kit.quick ? 0 : 2) && failed !== null && best > 0; step++) {
    const mid = Math.round((best + failed) / 2);
    const p = attempt(mid, 'bisect');
    if (!p) return null;
    if (p.ok) best = mid;
    else failed = mid;
  }
  return best;
}

/**
 * BENCH_ONLY=tls.
 * @param {Kit} kit
 * @param {(args: string[]) => Promise<EchoServer>} startServer
 * @param {readonly PeerRunner[]} peers
 */
export async function measureTls(kit, startServer, peers) {
  const dir = mkdtempSync(join(os.tmpdir(), 'wsrace-bench-tls-'));
  try {
    const madeBy = makeCertificate(dir);
    const started = await startServer(['--tls', dir]);
    if (!started.ca) throw new Error('the echo server was started with --tls but has no ca');
    const server = { ...started, ca: started.ca };
    try {
      return await measureTlsOn(kit, server, peers, madeBy);
    } finally {
      server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true }); // the key too
  }
}

/**
 * @param {Kit} kit
 * @param {EchoServer & { ca: string }} server
 * @param {readonly PeerRunner[]} peers
 * @param {'openssl' | 'node'} madeBy
 */
async function measureTlsOn(kit, server, peers, madeBy) {
  // A TLS handshake costs both sides milliseconds of CPU: fewer sockets in flight than ws:// wants.
  const concurrencies = kit.quick ? [8, 16, 32] : [4, 8, 16, 32, 64];
  const wsConcurrencies = kit.quick ? [16] : [8, 16, 32];
  const fractions = kit.quick ? [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1] : [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25];
  // Warm up each side once (the server's TLS path too).
  kit.floor(server.url, 1, 16, server.ca);
  rawRun(server.url, 1, 1, 16, kit.freshSource(), server.ca);
  await kit.wsrace(server.url, { rate: 300, seconds: 1, ca: server.ca });
  /** @type {Map<string, { rate: number, share: number | null }[]>} */
  const peerRuns = new Map();
  /** @type {Map<string, string>} */
  const peerSkipped = new Map();
  for (const p of peers) if ('skipped' in p) peerSkipped.set(p.name, p.skipped);
  const runs = [];
  for (let r = 0; r < kit.repeats; r++) {
    const floorNow = Math.round(Math.max(...wsConcurrencies.map((c) => kit.floor(server.url, kit.seconds, c, server.ca))));
    const raw = rawTop(server.url, kit, concurrencies, server.ca);
    kit.log(`tls run ${r + 1}: ws floor over TLS ${floorNow}/s, raw floor over TLS ${raw.perSecond}/s (its TLS p50 ${raw.tlsP50Ms} of ${raw.handshakeP50Ms} ms to the 101)`);
    const { best, top } = await kit.climb(server, raw.perSecond, r, fractions);
    runs.push({ floor: floorNow, raw: raw.perSecond, rawThreads: raw.threads, rawConcurrency: raw.concurrency, rawTlsP50Ms: raw.tlsP50Ms, rawHandshakeP50Ms: raw.handshakeP50Ms, rawTried: raw.tried, wsrace: best, shareOfRaw: raw.perSecond > 0 ? +(best / raw.perSecond).toFixed(3) : null, ratioToFloor: floorNow > 0 ? +(best / floorNow).toFixed(3) : null, tlsAtTop: top ? tlsShare(top) : null });
    for (const p of peers) {
      if ('skipped' in p || peerSkipped.has(p.name)) continue;
      const rate = climbPeerOverTls(p, server, raw.perSecond, r, kit);
      if (rate === null) peerSkipped.set(p.name, 'it failed to run over TLS (see the log)');
      else peerRuns.set(p.name, [...(peerRuns.get(p.name) ?? []), { rate, share: raw.perSecond > 0 ? +(rate / raw.perSecond).toFixed(3) : null }]);
    }
  }
  const wsraceRate = kit.median(runs.map((x) => x.wsrace));
  // The TLS share: that of the repeat whose top rate is the median.
  const medianRun = runs.find((x) => x.wsrace === wsraceRate) ?? runs[0];
  const result = {
    certificate: `P-256 (prime256v1), self-signed for IP 127.0.0.1, made by ${madeBy}; the server: bench/echo-server.mjs --tls (Node's https)`,
    onSchedule: 'all attempts closed 1000 and schedule lag p99 ≤ 10 ms after the first second (as the ws:// connection-rate row)',
    fractions,
    floorPerSecond: kit.median(runs.map((x) => x.floor)),
    rawFloorPerSecond: kit.median(runs.map((x) => x.raw)),
    wsraceOnSchedulePerSecond: wsraceRate,
    shareOfRaw: kit.median(runs.map((x) => x.shareOfRaw)),
    ratioToFloor: kit.median(runs.map((x) => x.ratioToFloor)),
    tlsShare: medianRun?.tlsAtTop ?? null,
    runs,
    peers: peers.map((p) => {
      const pr = peerRuns.get(p.name);
      const skipped = peerSkipped.get(p.name);
      if (!pr || skipped) return { name: p.name, skipped: skipped ?? 'no run', runs: pr ?? [] };
      const rate = kit.median(pr.map((x) => x.rate));
      return { name: p.name, onSchedulePerSecond: rate, shareOfRaw: kit.median(pr.map((x) => x.share)), wsraceTimesPeer: rate > 0 ? +(wsraceRate / rate).toFixed(2) : null, runs: pr };
    }),
  };
  kit.log(`tls: wsrace ${result.wsraceOnSchedulePerSecond}/s on schedule (runs ${runs.map((x) => x.wsrace).join(' / ')}), raw floor ${result.rawFloorPerSecond}/s, ws floor ${result.floorPerSecond}/s; share of raw ${result.shareOfRaw}; TLS share of the handshake by mean ${result.tlsShare?.byMean}`);
  return result;
}
/** @typedef {Awaited<ReturnType<typeof measureTlsOn>>} TlsResult */

/**
 * The table's rows.
 * @param {TlsResult} x
 * @returns {string[][]}
 */
export function tlsRows(x) {
  const t = x.tlsShare;
  return [
    ['wss:// rate (open+close/s)', `raw ${x.rawFloorPerSecond}`, `wsrace ${x.wsraceOnSchedulePerSecond} on schedule`, `${x.shareOfRaw}× the raw floor over TLS, ${x.ratioToFloor}× the ws floor over TLS (${x.floorPerSecond}/s)`],
    ['wss:// TLS share of the handshake', t ? `${t.byMean} by mean` : 'no run kept', t ? `${t.byP50} by p50` : '', t ? `TLS p50 ${t.tlsMs.p50} ms of ${t.handshakeMs.p50} ms (TCP connect p50 ${t.tcpConnectMs.p50} ms), at wsrace's top rate` : ''],
    ...x.peers.map((p) => (p.skipped !== undefined ? [`wss:// peer (${p.name})`, 'skipped', '', p.skipped] : [`wss:// peer (${p.name})`, `${p.onSchedulePerSecond}/s`, `${p.shareOfRaw}× the raw floor`, `wsrace keeps ${p.wsraceTimesPeer}× its rate on schedule over TLS`])),
  ];
}
