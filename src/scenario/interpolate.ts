import { InputError } from './errors.js';
import { formatPath } from '../util/key-path.js';

/**
 * `${VAR}` and `${VAR:-default}` in string values are read from the environment when the
 * scenario loads. Names that are per-connection templates (conn, worker, uuid, env.X, user.X)
 * are left for the engine to fill in per attempt, and so are session.stream.send's per-message
 * `${seq}` and `${sentAt}`.
 */
const PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_.]*)(?::-([^}]*))?\}/g;
const PER_CONNECTION = /^(conn|worker|uuid|env\..+|user\..+)$/;
/** session.stream.send's per-message placeholders, filled by the engine with every message. */
const PER_MESSAGE = /^(seq|sentAt)$/;

/** Variables whose values are secrets by their name: never written to a report. */
export const SECRET_NAME = /TOKEN|SECRET|PASSW|KEY|AUTH|COOKIE|CREDENTIAL|SESSION|JWT/i;

export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, file: string, path: PropertyKey[] = [], secrets?: Set<string>): unknown {
  if (typeof value === 'string') {
    return value.replace(PATTERN, (whole, name: string, fallback: string | undefined) => {
      if (PER_CONNECTION.test(name)) return whole;
      if (PER_MESSAGE.test(name) && isStreamSend(path)) return whole;
      const found = env[name];
      if (found !== undefined && found !== '' && SECRET_NAME.test(name) && found.length >= 4) secrets?.add(found);
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new InputError(
        `${file}: ${formatPath(path)}: environment variable ${name} is ${found === '' ? 'empty' : 'not set'} (export it, or give a default with \${${name}:-value})`,
      );
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnv(item, env, file, [...path, i], secrets));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = interpolateEnv(item, env, file, [...path, key], secrets);
    return out;
  }
  return value;
}

function isStreamSend(path: PropertyKey[]): boolean {
  return path.length === 3 && path[0] === 'session' && path[1] === 'stream' && path[2] === 'send';
}
