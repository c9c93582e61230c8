import { describe, expect, it } from 'vitest';
import { closeReasonText, errorCode, failureBeforeOpen, MAX_REASON_BYTES, protocolViolation } from '../src/engine/outcome.js';
import { HandshakeError } from '../src/engine/handshake.js';
import { jsonContains } from '../src/session/json-subset.js';

const coded = (code: unknown, message = 'whatever the message says') => Object.assign(new Error(message), { code });

describe('errorCode: by code, never by message', () => {
  it('Node’s HTTP parser codes are invalid_http; any other code is itself', () => {
    expect(errorCode(coded('HPE_INVALID_CONSTANT'))).toBe('invalid_http');
    expect(errorCode(coded('HPE_UNEXPECTED_CONTENT_LENGTH'))).toBe('invalid_http');
    expect(errorCode(coded('EMFILE'))).toBe('EMFILE');
    expect(errorCode(coded('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(errorCode(coded('ERR_INVALID_CHAR'))).toBe('ERR_INVALID_CHAR');
    expect(errorCode(coded('WS_ERR_INVALID_OPCODE'))).toBe('WS_ERR_INVALID_OPCODE');
    expect(errorCode(new HandshakeError('invalid_accept', 'Invalid Sec-WebSocket-Accept header'))).toBe('invalid_accept');
  });

  it('an error without a string code is unknown, whatever its message', () => {
    expect(errorCode(new Error('Invalid Sec-WebSocket-Accept header'))).toBe('unknown');
    expect(errorCode(new Error('Parse Error: Expected HTTP/'))).toBe('unknown');
    expect(errorCode(coded(''))).toBe('unknown');
    expect(errorCode(coded(42))).toBe('unknown');
    expect(errorCode(null)).toBe('unknown');
    expect(errorCode(undefined)).toBe('unknown');
    expect(errorCode('a string')).toBe('unknown');
  });
});

describe('failureBeforeOpen', () => {
  it('ECONNREFUSED is refused, ECONNRESET reset, anything else an error', () => {
    expect(failureBeforeOpen(coded('ECONNREFUSED'))).toBe('refused');
    expect(failureBeforeOpen(coded('ECONNRESET'))).toBe('reset');
    expect(failureBeforeOpen(coded('ETIMEDOUT'))).toBe('error');
    expect(failureBeforeOpen(coded('HPE_INVALID_CONSTANT'))).toBe('error');
    expect(failureBeforeOpen(new Error('ECONNREFUSED'))).toBe('error');
  });
});

describe('protocolViolation', () => {
  it('names ws’s codes for a server that broke the protocol after open, and nothing else', () => {
    expect(protocolViolation(coded('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'))).toBe('max_payload');
    expect(protocolViolation(coded('WS_ERR_INVALID_UTF8'))).toBe('invalid_utf8');
    expect(protocolViolation(coded('WS_ERR_INVALID_CLOSE_CODE'))).toBe('invalid_close_code');
    for (const code of ['WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 'WS_ERR_INVALID_OPCODE', 'WS_ERR_EXPECTED_FIN', 'WS_ERR_EXPECTED_MASK', 'WS_ERR_UNEXPECTED_MASK', 'WS_ERR_UNEXPECTED_RSV_1', 'WS_ERR_UNEXPECTED_RSV_2_3', 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH']) {
      expect(protocolViolation(coded(code))).toBe('protocol_error');
    }
    // Too many fragments or buffered parts: ws cuts the socket, counted by its 1006.
    expect(protocolViolation(coded('WS_ERR_TOO_MANY_BUFFERED_PARTS'))).toBeNull();
    expect(protocolViolation(coded('ECONNRESET'))).toBeNull();
    expect(protocolViolation(coded('toString'))).toBeNull();
    expect(protocolViolation(new Error('Max payload size exceeded'))).toBeNull();
  });
});

describe('closeReasonText', () => {
  it('keeps up to 123 bytes of a reason as UTF-8, none for an empty one', () => {
    expect(closeReasonText(Buffer.alloc(0))).toBeUndefined();
    expect(closeReasonText(Buffer.from('not ready'))).toBe('not ready');
    expect(closeReasonText(Buffer.alloc(200, 'a'))).toBe('a'.repeat(MAX_REASON_BYTES));
    expect(closeReasonText(Buffer.from([0x53, 0xff]))).toBe('S\ufffd');
  });
});

describe('jsonContains: an expect step’s json subset', () => {
  it('objects by every key of the subset, recursively; extra keys in the value are fine', () => {
    expect(jsonContains({ type: 'a', data: { x: 1, y: 2 } }, { data: { x: 1 } })).toBe(true);
    expect(jsonContains({ type: 'a' }, { type: 'b' })).toBe(false);
    expect(jsonContains({ type: 'a' }, { type: 'a', id: 1 })).toBe(false);
    expect(jsonContains({ a: { b: { c: null } } }, { a: { b: { c: null } } })).toBe(true);
    expect(jsonContains({}, {})).toBe(true);
  });

  it('arrays element by element and of the same length; scalars by strict equality', () => {
    expect(jsonContains([1, { a: 1, b: 2 }], [1, { a: 1 }])).toBe(true);
    expect(jsonContains([1, 2, 3], [1, 2])).toBe(false);
    expect(jsonContains({ a: [1] }, { a: {} })).toBe(false);
    expect(jsonContains({ a: {} }, { a: [] })).toBe(false);
    expect(jsonContains(1, 1)).toBe(true);
    expect(jsonContains('1', 1)).toBe(false);
    expect(jsonContains(null, {})).toBe(false);
    expect(jsonContains(null, null)).toBe(true);
  });
});
