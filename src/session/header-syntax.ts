/**
 * What the upgrade request may carry, shared by the handshake (engine/handshake.ts) and the check
 * of a scenario's filled-in templates before a run (expansion-check.ts). Header names and values
 * are Node's own checks (`http.validateHeaderName` / `validateHeaderValue`), the ones its client,
 * and so ws's, applies to every request; only the subprotocol token is spelled out here.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';

/**
 * RFC 7230 token characters: a subprotocol (ws's subprotocol check), a response header's name.
 * Node's validateHeaderName tests names against the same set.
 */
export const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;

/** Whether a subprotocol is an RFC 7230 token, as the handshake requires. */
export const isToken = (text: string): boolean => TOKEN.test(text);

/** Whether Node's client would send a header of this name (an RFC 7230 token). */
export function isHeaderName(name: string): boolean {
  try {
    validateHeaderName(name);
    return true;
  } catch {
    return false;
  }
}

/** Whether Node's client would send this header value (no control characters but tab, nothing beyond Latin-1). */
export function isHeaderValue(value: string): boolean {
  try {
    validateHeaderValue('x', value);
    return true;
  } catch {
    return false;
  }
}
