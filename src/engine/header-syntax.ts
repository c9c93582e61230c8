/**
 * What the upgrade request may carry (RFC 7230), shared by the handshake (handshake.ts) and the
 * check of a scenario's filled-in templates before a run (session/expansion-check.ts). No
 * dependencies: the main thread loads it without ws.
 */

/** RFC 7230 token characters: a header name, a subprotocol. */
export const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
/** What a header value may not contain: control characters, anything beyond Latin-1. */
export const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** Whether a header name or subprotocol is an RFC 7230 token, as the handshake requires. */
export const isToken = (text: string): boolean => TOKEN.test(text);
/** Whether the handshake can send a header value (no control characters, nothing beyond Latin-1). */
export const isHeaderValue = (value: string): boolean => !INVALID_VALUE.test(value);
