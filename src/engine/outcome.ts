/**
 * How an attempt's errors are counted. By code only, never by message: Node's errno, TLS and
 * HTTP-parser codes, ws's WS_ERR_* codes, and wsrace's own handshake codes (handshake.ts).
 */
/** Largest close reason a control frame can carry; longer text is not from a valid peer. */
export const MAX_REASON_BYTES = 123;

/** An error's `code`, if it has a non-empty string one. */
function codeOf(err: unknown): string | null {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && code.length > 0 ? code : null;
}

/**
 * The code an error is counted under in totals.errorCodes: Node's HTTP parser's codes (HPE_*)
 * as `invalid_http`, as for wsrace's own parser; any other code as it is (EMFILE,
 * DEPTH_ZERO_SELF_SIGNED_CERT, ERR_INVALID_CHAR, invalid_accept …); `unknown` without one.
 */
export function errorCode(err: unknown): string {
  const code = codeOf(err);
  if (code === null) return 'unknown';
  return code.startsWith('HPE_') ? 'invalid_http' : code;
}

/** What an error does to an attempt that has not opened: refused, reset, or an error to count by its code. */
export function failureBeforeOpen(err: unknown): 'refused' | 'reset' | 'error' {
  const code = codeOf(err);
  if (code === 'ECONNREFUSED') return 'refused';
  return code === 'ECONNRESET' ? 'reset' : 'error';
}

/** ws's codes for a server that broke the WebSocket protocol after open, as short names. */
const VIOLATIONS: Readonly<Record<string, string>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 'max_payload',
  WS_ERR_INVALID_UTF8: 'invalid_utf8',
  WS_ERR_INVALID_CLOSE_CODE: 'invalid_close_code',
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 'protocol_error',
  WS_ERR_INVALID_OPCODE: 'protocol_error',
  WS_ERR_EXPECTED_FIN: 'protocol_error',
  WS_ERR_EXPECTED_MASK: 'protocol_error',
  WS_ERR_UNEXPECTED_MASK: 'protocol_error',
  WS_ERR_UNEXPECTED_RSV_1: 'protocol_error',
  WS_ERR_UNEXPECTED_RSV_2_3: 'protocol_error',
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 'protocol_error',
};

/**
 * The protocol violation an error after open reports (ws fails the socket itself: the attempt
 * counts the violation, not the 1006 it leaves behind), or null for any other error.
 */
export function protocolViolation(err: unknown): string | null {
  const code = codeOf(err);
  return code !== null && Object.hasOwn(VIOLATIONS, code) ? VIOLATIONS[code] : null;
}

/** A close frame's reason as recorded: its first 123 bytes as UTF-8; undefined when it has none. */
export function closeReasonText(reason: Buffer): string | undefined {
  return reason.length > 0 ? reason.subarray(0, MAX_REASON_BYTES).toString('utf8') : undefined;
}
