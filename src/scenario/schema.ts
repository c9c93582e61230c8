import { z } from 'zod';
import { DECIMAL, parseDuration } from '../util/duration.js';
import { parseListen } from '../util/listen.js';
import { expandAddresses } from './addresses.js';
import { SERVED_AFTER_MS } from './served-after.js';
import { compileJsonPath } from '../util/json-path.js';

/**
 * The scenario file's schema. Every object is strict: a typo in a key is an error, never a
 * silently different test. Custom messages start with "expected" so the loader can print
 * "<file>:<line>: <key>: expected …, found …".
 */

const duration = (what = 'a duration like 500ms, 5s or 2m') =>
  z
    .union([z.string(), z.number()], { error: `expected ${what}` })
    .transform((value, ctx) => {
      try {
        return parseDuration(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: `expected ${what}` });
        return z.NEVER;
      }
    });

/**
 * A number field that also takes a string holding just a number: `${VAR}` always gives text, so
 * `rate: ${RATE:-150}` reads as 150, and `${RATE}` set to 5e0 as 5 (YAML reads 5e0 as a number
 * too). Any other string is left for the schema to refuse.
 */
const NUMBER_TEXT = new RegExp(`^\\s*-?${DECIMAL}\\s*$`);
const numeric = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === 'string' && NUMBER_TEXT.test(v) ? Number(v) : v), schema);

const positiveDuration = () =>
  duration('a positive duration like 500ms, 5s or 2m').refine((ms) => ms > 0, {
    message: 'expected a positive duration like 500ms, 5s or 2m',
  });

/**
 * A URL with one of the given schemes, a host written after `//` (the URL parser would read
 * `ws:///ws` as host "ws"), and for WebSocket URLs no #fragment (RFC 6455 forbids one; ws's
 * client refuses it).
 */
const urlWith = (protocols: string[], what: string) =>
  z.string({ error: `expected ${what}` }).refine(
    (url) => {
      try {
        const u = new URL(url);
        return protocols.includes(u.protocol) && u.hostname !== '' && /^[a-z][a-z0-9+.-]*:\/\/[^/?#]/i.test(url.trim()) && !(protocols.includes('ws:') && url.includes('#'));
      } catch {
        return false;
      }
    },
    { message: `expected ${what}` },
  );

const wsUrl = urlWith(['ws:', 'wss:'], 'a ws:// or wss:// URL with a host and no #fragment');

const startSchema = z
  .object({
    command: z.string({ error: 'expected a shell command (string)' }).min(1, 'expected a non-empty shell command'),
    cwd: z.string({ error: 'expected a directory path' }).optional(),
    env: z.record(z.string(), z.string({ error: 'expected a string value' }), { error: 'expected a map of NAME: value' }).optional(),
    /** How long to give the target to stop after SIGTERM before SIGKILL. */
    stopGrace: duration().default(2000),
  })
  .strict();

const targetSchema = z
  .object({
    url: wsUrl,
    headers: z.record(z.string(), z.string({ error: 'expected a string header value' }), { error: 'expected a map of header: value' }).default({}),
    subprotocols: z.array(z.string({ error: 'expected a string' }), { error: 'expected a list of subprotocol names' }).default([]),
    handshakeTimeout: positiveDuration().default(5000),
    perMessageDeflate: z.boolean({ error: 'expected true or false' }).default(false),
    /** Largest message accepted from the server; ws's own default is 100 MiB, far too trusting. */
    maxPayload: numeric(z.number({ error: 'expected a size in bytes' }).int('expected an integer number of bytes').positive('expected a positive number of bytes')).default(1024 * 1024),
    /** Source addresses to rotate through (list, range 127.0.0.2-127.0.0.40, CIDR): for more connections than one address has ephemeral ports. */
    localAddresses: z
      .array(z.string({ error: 'expected an address, range or CIDR block' }), { error: 'expected a list of addresses, ranges or CIDR blocks' })
      .transform((items, ctx) => {
        try {
          return expandAddresses(items);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      })
      .default([]),
    /** Non-loopback hosts this scenario may load above a modest rate (a guard against pasted production URLs). */
    allowHosts: z.array(z.string({ error: 'expected a host name' }), { error: 'expected a list of host names' }).default([]),
    /** Header names whose values are secrets (Authorization and Cookie always are). */
    secretHeaders: z.array(z.string(), { error: 'expected a list of header names' }).default([]),
    /** TLS for wss:// targets. */
    tls: z
      .object({
        /** PEM file of the CA that signed the server's certificate (relative to the scenario). */
        ca: z.string({ error: 'expected a path to a PEM file' }).optional(),
        /** Accept any certificate (self-signed staging): the TLS time is still measured. */
        insecure: z.boolean({ error: 'expected true or false' }).default(false),
        /** SNI and certificate name to check, when it differs from the URL's host. */
        servername: z.string({ error: 'expected a host name' }).optional(),
      })
      .strict()
      .optional(),
    /** Command that starts the target; spawned through /bin/sh -c at T0 and stopped at the end. */
    start: startSchema.optional(),
    /**
     * Command that causes a cold start elsewhere (a deploy, a scale-from-zero), not waited for:
     * launched at T0, or `at` after it (a deploy mid-run: the steady state before it shows too).
     */
    trigger: z
      .object({
        command: z.string({ error: 'expected a shell command (string)' }).min(1, 'expected a non-empty shell command'),
        at: duration().optional(),
      }, { error: 'expected a trigger like { command: "gcloud run deploy …", at: 30s }' })
      .strict()
      .optional(),
  })
  .strict();

const regex = (what: string) =>
  z.string({ error: `expected ${what} (a regular expression string)` }).refine(
    (re) => {
      try {
        new RegExp(re);
        return true;
      } catch {
        return false;
      }
    },
    { message: `expected ${what} (a valid regular expression)` },
  );

const logSchema = z
  .object({
    from: z.literal('target', { error: 'expected "target" (the spawned target\'s output)' }).optional(),
    command: z.string({ error: 'expected a shell command whose output is the log (string)' }).min(1).optional(),
    file: z.string({ error: 'expected a file path to follow' }).min(1).optional(),
    phase: regex('a phase pattern with group 1 = the phase name').optional(),
    ready: regex('a ready-line pattern').optional(),
    failed: regex('a failed-startup pattern').optional(),
    time: regex('a timestamp pattern with a named group ts').refine((re) => re.includes('?<ts>'), { message: 'expected a pattern with a named group (?<ts>...)' }).optional(),
  })
  .strict()
  .refine((l) => [l.from, l.command, l.file].filter((x) => x !== undefined).length <= 1, { message: 'expected only one of from, command or file' });

const httpUrl = urlWith(['http:', 'https:'], 'an http:// or https:// URL');

const healthSchema = z
  .object({
    url: httpUrl,
    interval: positiveDuration().default(100),
    timeout: positiveDuration().default(1000),
    phaseField: z.string({ error: 'expected a dot path into the JSON body, like details.phase' }).nullable().default('details.phase'),
    readyStatus: z
      .union([z.number(), z.string(), z.array(z.union([z.number(), z.string()]))], { error: 'expected a status like 200, "2xx", or a list of them' })
      .transform((v) => (Array.isArray(v) ? v : [v]))
      .refine((list) => list.every((x) => (typeof x === 'number' ? x >= 100 && x <= 599 : /^([1-5]xx|[1-5]\d\d)$/i.test(x))), { message: 'expected a status like 200, "2xx", or a list of them' })
      .default(['2xx']),
  })
  .strict();

const timelineSchema = z
  .object({
    log: logSchema.optional(),
    health: healthSchema.optional(),
    /** Which readiness signal counts; default health if configured, else log. */
    readyFrom: z.enum(['health', 'log'], { error: 'expected health or log' }).optional(),
  })
  .strict();

const stageSchema = z
  .object({
    duration: positiveDuration(),
    rate: numeric(z.number({ error: 'expected a rate in connections per second (number)' }).min(0, 'expected a rate ≥ 0 connections per second')),
    rampTo: numeric(z.number({ error: 'expected a rate in connections per second (number)' }).min(0, 'expected a rate ≥ 0 connections per second').optional()),
  })
  .strict()
  .refine((s) => s.rate > 0 || (s.rampTo ?? 0) > 0, {
    message: 'expected rate > 0 (or a ramp with rampTo > 0): this stage would start no connection',
    path: ['rate'],
  });

/**
 * A connected population: `clients` clients connect spread evenly over `over` and stay connected
 * until `load.duration`, reconnecting on every drop with session.reconnect's backoff.
 */
const populationSchema = z
  .object({
    clients: numeric(z.number({ error: 'expected a whole number of clients' }).int('expected a whole number of clients').positive('expected a positive number of clients')),
    over: duration().default(0),
  }, { error: 'expected a population like { clients: 5000, over: 10s }' })
  .strict();

const loadSchema = z
  .object({
    stages: z.array(stageSchema, { error: 'expected a list of stages like { duration: 5s, rate: 200 }' }).min(1, 'expected at least one stage').optional(),
    population: populationSchema.optional(),
    /** How long a population stays connected, from the schedule's start (load.startAfter after T0). */
    duration: positiveDuration().optional(),
    maxConnections: numeric(z.number({ error: 'expected a whole number of sockets' }).int('expected a whole number of sockets').positive('expected a positive number of sockets').optional()),
    /** Delay of the first stage after T0. */
    startAfter: duration().default(0),
    /** The herd that arrives when the service flips ready: N extra attempts spread over `over`. */
    onReady: z
      .object({
        burst: numeric(z.number({ error: 'expected a whole number of attempts' }).int('expected a whole number of attempts').positive('expected a positive number of attempts')),
        over: duration().default(1000),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((l) => l.stages !== undefined || l.population !== undefined, { message: 'expected stages (arrivals), a population, or both', path: ['stages'] })
  .refine((l) => l.population === undefined || l.duration !== undefined, { message: 'expected a duration for the population to stay connected, like 60s', path: ['duration'] })
  .refine((l) => l.duration === undefined || l.population !== undefined, { message: 'expected load.population with load.duration (how long the population stays connected; stages set their own length)', path: ['duration'] })
  .refine((l) => l.population === undefined || l.duration === undefined || l.population.over < l.duration, { message: 'expected population.over shorter than load.duration', path: ['population', 'over'] });

const expectSchema = z
  .object({
    match: regex('a regular expression'),
    within: positiveDuration().default(2000),
  })
  .strict();

const stepName = z.string({ error: 'expected a step name (string)' }).regex(/^[A-Za-z0-9_-]+$/, 'expected a step name of letters, digits, "_" or "-"');

const expectStep = z
  .object({
    name: stepName.optional(),
    match: regex('a regular expression').optional(),
    /** A JSON subset the message must contain, e.g. { type: agent_started }. */
    json: z.record(z.string(), z.unknown(), { error: 'expected a map of fields the JSON message must have' }).optional(),
    within: positiveDuration().default(2000),
  })
  .strict()
  .refine((e) => (e.match === undefined) !== (e.json === undefined), { message: 'expected exactly one of match (regex) or json (subset)' });

/** One scripted step: exactly one of send, expect, sleep, ping, close. */
const stepSchema = z.union(
  [
    z.object({ send: z.string({ error: 'expected a message (string)' }) }).strict(),
    z.object({ expect: expectStep }).strict(),
    z.object({ sleep: positiveDuration() }).strict(),
    z.object({ ping: z.object({ name: stepName.optional(), within: positiveDuration().default(2000) }).strict() }).strict(),
    z
      .object({
        close: z
          .object({
            code: numeric(z.number({ error: 'expected a close code (number)' }).int().refine((c) => c === 1000 || (c >= 3000 && c <= 4999), { message: 'expected 1000 or a code in 3000-4999' })).default(1000),
            reason: z.string().max(123, 'expected a reason of at most 123 bytes').default(''),
          })
          .strict(),
      })
      .strict(),
  ],
  { error: 'expected a step: one of { send: ... }, { expect: { match|json, within } }, { sleep: 100ms }, { ping: { within } }, { close: { code, reason } }' },
);

/** A JSON path like `seq` or `data.items[0].seq`, checked when the scenario loads. */
const jsonPath = z.string({ error: 'expected a JSON path like seq or data.seq' }).refine(
  (path) => {
    try {
      compileJsonPath(path);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected a JSON path like seq or data.items[0].seq' },
);

/**
 * session.stream: every open socket sends a message at open and every `every` after, and times
 * its reply. `${seq}` (per socket, from 1) and `${sentAt}` (ms since T0) fill the message.
 */
const streamSchema = z
  .object({
    every: positiveDuration().default(1000),
    send: z.string({ error: 'expected a message (string) with ${seq}' }).default('{"type":"ping","seq":${seq},"sentAt":${sentAt}}'),
    reply: z
      .object({
        match: regex('a regular expression').optional(),
        /** A JSON subset the reply must contain, e.g. { type: pong }. */
        json: z.record(z.string(), z.unknown(), { error: 'expected a map of fields the JSON reply must have' }).optional(),
        /** Where the reply echoes the sequence number; without it replies are matched in order. */
        seq: jsonPath.optional(),
      }, { error: 'expected a reply like { match: \'"type":"pong"\', seq: seq }' })
      .strict()
      .refine((r) => !(r.match !== undefined && r.json !== undefined), { message: 'expected at most one of match (regex) or json (subset)' })
      .default({ match: '"type":"pong"', seq: 'seq' } as never),
    /** A reply later than this is late; none by the socket's end: lost. */
    within: positiveDuration().default(2000),
  }, { error: 'expected a stream like { every: 250ms, send, reply, within: 2s }' })
  .strict();

const RECONNECT_ON = 'expected a close code an attempt can end with (1000–1014 but 1004, or 3000–4999: 1006, 1011 …), an HTTP status (100–599 but 101: 503, or http_503) or one of refused, reset, handshake_timeout, expect_timeout, error';

/** A close code an attempt can end with: one a server may send (ws refuses 1004 and 1015–2999 as `error`), 1005 (no code) or 1006 (no close frame). */
const closeCodeSeen = (n: number) => (n >= 1000 && n <= 1014 && n !== 1004) || (n >= 3000 && n <= 4999);
/** An HTTP status an upgrade can be answered with instead of 101. */
const httpStatusSeen = (n: number) => n >= 100 && n <= 599 && n !== 101;

/** One `reconnect.on` entry as the outcome key it matches (reconnect-policy.ts): "1011", "http_503", "refused" …; null for one no attempt can end with. */
export function reconnectKey(v: number | string): string | null {
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : NaN;
  if (Number.isInteger(n)) return closeCodeSeen(n) ? String(n) : httpStatusSeen(n) ? `http_${n}` : null;
  if (typeof v === 'string' && /^http_\d{3}$/.test(v)) return httpStatusSeen(Number(v.slice(5))) ? v : null;
  return typeof v === 'string' && ['refused', 'reset', 'handshake_timeout', 'expect_timeout', 'error'].includes(v) ? v : null;
}

const reconnectOutcome = z.union([z.number(), z.string()], { error: RECONNECT_ON }).transform((v, ctx) => {
  const key = reconnectKey(v);
  if (key === null) ctx.addIssue({ code: 'custom', message: `${RECONNECT_ON}, found ${JSON.stringify(v)}` });
  return key ?? '';
});

const sessionSchema = z
  .object({
    hold: duration().default(1000),
    send: z.array(z.string({ error: 'expected a message (string)' }), { error: 'expected a list of messages' }).default([]),
    expect: expectSchema.optional(),
    /** How long a client close may wait for the server's close frame before the socket is destroyed. */
    closeTimeout: positiveDuration().default(2000),
    /** Without a stream: how long a socket must stay open after its steps, before the server closes it, to have served its client (record/clients.ts). */
    servedAfter: duration().default(SERVED_AFTER_MS),
    /** A scripted session, run in order once the socket opens (instead of send/expect). */
    steps: z.array(stepSchema, { error: 'expected a list of steps' }).min(1, 'expected at least one step').optional(),
    /** Reconnecting clients: a failed attempt whose outcome is listed is retried with backoff. */
    reconnect: z
      .object({
        // Absent: the defaults of arrivals or of a population (run/settings.ts), not one list for both.
        on: z.array(reconnectOutcome, { error: 'expected a list of outcomes to retry on, like [1006, 1011, 503, refused]' }).min(1, 'expected at least one outcome to retry on').optional(),
        max: numeric(z.number({ error: 'expected a whole number of retries' }).int().min(1, 'expected at least 1 retry')).default(10),
        backoff: z
          .object({
            initial: positiveDuration().default(250),
            factor: numeric(z.number({ error: 'expected a backoff factor (number ≥ 1)' }).min(1, 'expected a factor ≥ 1')).default(2),
            max: positiveDuration().default(5000),
            jitter: numeric(z.union([z.number(), z.string().regex(/^\d+(\.\d+)?%$/)], { error: 'expected a jitter like 10% or 0.1' }))
              .transform((j) => (typeof j === 'string' ? Number(j.slice(0, -1)) / 100 : j))
              .refine((j) => j >= 0 && j <= 1, { message: 'expected a jitter between 0% and 100%' })
              .default(0.1),
          }, { error: 'expected a backoff like { initial: 250ms, factor: 2, max: 5s, jitter: 10% }' })
          .strict()
          .default({ initial: 250, factor: 2, max: 5000, jitter: 0.1 } as never),
      }, { error: 'expected reconnect settings like { on: [1006, 1011], max: 10, backoff: { initial: 250ms } }' })
      .strict()
      .optional(),
    /** A message stream on every open socket, its replies timed (see streamSchema). */
    stream: streamSchema.optional(),
    /** A JSON path in the server's own messages whose number counts up: a skip is a gap. */
    serverSeq: jsonPath.optional(),
    /** Test users for ${user.field} templates: a CSV file with a header row or a JSON list (relative to the scenario). */
    users: z.string({ error: 'expected a path to a CSV or JSON file of users' }).min(1).optional(),
  })
  .strict()
  .refine((s) => !(s.steps && (s.send.length > 0 || s.expect)), { message: 'expected either steps or send/expect, not both (send/expect is shorthand for two steps)', path: ['steps'] });

/**
 * A threshold: its expression, or a map that also says the run stops once it fails (checked live
 * on the merged totals, from `delay` after the schedule's start).
 */
const thresholdSchema = z.preprocess(
  // The plain string is the map's shorthand, so a map's mistakes are named by their key.
  (v) => (typeof v === 'string' ? { expr: v } : v),
  z
    .object(
      {
        expr: z.string({ error: 'expected a threshold expression like "totals.closeCodes.1011 < 10"' }),
        abortOnFail: z.boolean({ error: 'expected true or false' }).optional(),
        delay: duration().optional(),
      },
      { error: 'expected a threshold like "handshakeMs.p99 < 500" or a map { expr, abortOnFail, delay }' },
    )
    .strict()
    .refine((t) => t.delay === undefined || t.abortOnFail === true, { message: 'expected delay only with abortOnFail: true (it is how long the run goes before the threshold may stop it)', path: ['delay'] }),
);

/** output.prometheus: where live metrics go while the run goes (the --metrics-listen, --pushgateway and --remote-write flags override it). */
const prometheusSchema = z
  .object({
    listen: z.string({ error: 'expected host:port like 127.0.0.1:9464' }).refine((t) => parseListen(t) !== null, { message: 'expected host:port like 127.0.0.1:9464' }).optional(),
    linger: duration().optional(),
    pushgateway: httpUrl.optional(),
    remoteWrite: httpUrl.optional(),
  })
  .strict();

const outputSchema = z.object({ prometheus: prometheusSchema.optional() }).strict();

export const scenarioSchema = z
  .object({
    name: z.string({ error: 'expected a name (string)' }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a name of letters, digits, ".", "_" or "-"'),
    description: z.string().optional(),
    target: targetSchema,
    load: loadSchema,
    session: sessionSchema.default({ hold: 1000, send: [], closeTimeout: 2000 } as never),
    timeline: timelineSchema.optional(),
    thresholds: z.array(thresholdSchema, { error: 'expected a list of thresholds' }).default([]),
    /** Run settings that the CLI can also set. */
    workers: numeric(z.number({ error: 'expected a whole number of worker threads' }).int().positive().optional()),
    /** Time allowed after the last stage for attempts to finish before stragglers are terminated. */
    drainTimeout: duration().default(10_000),
    /** Live metrics out of the run (Prometheus scrape, Pushgateway, remote write). */
    output: outputSchema.optional(),
  })
  .strict();

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
