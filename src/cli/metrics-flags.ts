import type { Argv } from 'yargs';
import { parseDuration } from '../util/duration.js';
import { parseListen } from '../util/listen.js';
import { InputError } from '../scenario/errors.js';
import type { RunOptions } from '../run/options.js';

export interface MetricsArgs {
  'metrics-listen'?: string;
  'metrics-linger'?: string;
  pushgateway?: string;
  'remote-write'?: string;
}

/** The live-metrics flags of `run`. */
export function metricsFlags<T>(y: Argv<T>): Argv<T & MetricsArgs> {
  return y
    .option('metrics-listen', { type: 'string', describe: 'Serve Prometheus /metrics on host:port while the run goes (e.g. 127.0.0.1:9464)' })
    .option('metrics-linger', { type: 'string', describe: 'Keep /metrics up this long after the run ends, for a last scrape (default 5s)' })
    .option('pushgateway', { type: 'string', describe: 'Push the metrics to this Pushgateway every 5 s and at the end (job=wsrace, run, shard)' })
    .option('remote-write', { type: 'string', describe: 'Send the metrics by Prometheus remote write to this URL (auth from WSRACE_RW_BEARER_TOKEN, WSRACE_RW_USERNAME/PASSWORD, WSRACE_RW_HEADERS_<Name>)' }) as Argv<T & MetricsArgs>;
}

const httpUrl = (flag: string, value: string): string => {
  if (!URL.canParse(value) || !['http:', 'https:'].includes(new URL(value).protocol)) throw new InputError(`--${flag} ${value}: expected an http:// or https:// URL`);
  return value;
};

/** RunOptions.metrics from the flags (each overrides the scenario's output.prometheus key); InputError on a bad value. */
export function metricsOptions(argv: MetricsArgs): RunOptions['metrics'] {
  const out: NonNullable<RunOptions['metrics']> = {};
  const listen = argv['metrics-listen'];
  if (listen !== undefined) {
    if (parseListen(listen) === null) throw new InputError(`--metrics-listen ${listen}: expected host:port like 127.0.0.1:9464`);
    out.listen = listen;
  }
  const linger = argv['metrics-linger'];
  if (linger !== undefined) {
    try {
      out.lingerMs = parseDuration(linger);
    } catch {
      throw new InputError(`--metrics-linger ${linger}: expected a duration like 5s`);
    }
  }
  if (argv.pushgateway !== undefined) out.pushgateway = httpUrl('pushgateway', argv.pushgateway);
  if (argv['remote-write'] !== undefined) out.remoteWrite = httpUrl('remote-write', argv['remote-write']);
  return out;
}
