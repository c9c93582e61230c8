import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REDACTED, redactHeaders, redactSubprotocols, redactUrl, redactValues } from '../src/report/redact.js';
import { writeScenarioCopy } from '../src/report/run-files.js';
import { parseScenarioText } from '../src/scenario/load.js';

/** How REDACTED reads inside a URL once the URL serializer has percent-encoded it. */
const IN_URL = encodeURIComponent(REDACTED);

describe('redactHeaders', () => {
  it('always hides Authorization, Cookie, Proxy-Authorization and X-Api-Key, whatever their case; keeps the names', () => {
    const headers = { Authorization: 'Bearer t1', cookie: 'sid=t2', 'PROXY-AUTHORIZATION': 'Basic t3', 'x-API-key': 't4', 'X-Trace': 'visible', Host: 'h' };
    expect(redactHeaders(headers)).toEqual({ Authorization: REDACTED, cookie: REDACTED, 'PROXY-AUTHORIZATION': REDACTED, 'x-API-key': REDACTED, 'X-Trace': 'visible', Host: 'h' });
    expect(Object.keys(redactHeaders(headers))).toEqual(Object.keys(headers)); // order kept
  });

  it('hides the scenario\'s secretHeaders too, names compared case-insensitively both ways', () => {
    const headers = { 'X-Session': 's', 'x-tenant-token': 't', 'X-Other': 'o' };
    expect(redactHeaders(headers, ['x-session', 'X-TENANT-TOKEN'])).toEqual({ 'X-Session': REDACTED, 'x-tenant-token': REDACTED, 'X-Other': 'o' });
    expect(redactHeaders(headers, [])).toEqual(headers);
  });

  it('leaves its input alone', () => {
    const headers = { Authorization: 'Bearer t' };
    redactHeaders(headers);
    expect(headers).toEqual({ Authorization: 'Bearer t' });
  });
});

describe('redactSubprotocols', () => {
  it('hides the token after jwt., bearer. or token. (any case, . or :), keeps the rest', () => {
    expect(redactSubprotocols(['jwt-auth', 'jwt.eyJhbGciOi.payload.sig', 'JWT.abc', 'bearer.xyz', 'Token:abc', 'chat', 'jwt', 'jwtx.abc'])).toEqual([
      'jwt-auth',
      `jwt.${REDACTED}`,
      `JWT.${REDACTED}`,
      `bearer.${REDACTED}`,
      `Token.${REDACTED}`,
      'chat',
      'jwt',
      'jwtx.abc',
    ]);
    expect(redactSubprotocols([])).toEqual([]);
  });
});

describe('redactUrl', () => {
  it('hides query parameters whose names suggest a credential, keeps the others and the order', () => {
    const url = 'wss://api.example.com/ws?user=alice&access_token=t1&apiKey=t2&X-Amz-Signature=t3&auth=t4&client_secret=t5&password=t6&jwt=t7&page=2';
    expect(redactUrl(url)).toBe(
      `wss://api.example.com/ws?user=alice&access_token=${IN_URL}&apiKey=${IN_URL}&X-Amz-Signature=${IN_URL}&auth=${IN_URL}&client_secret=${IN_URL}&password=${IN_URL}&jwt=${IN_URL}&page=2`,
    );
  });

  it('a repeated credential parameter becomes one redacted value', () => {
    expect(redactUrl('ws://h/ws?token=a&x=1&token=b')).toBe(`ws://h/ws?token=${IN_URL}&x=1`);
  });

  it('hides userinfo, the user name too (a token is often written there alone)', () => {
    expect(redactUrl('wss://alice:s3cret@h:8443/ws')).toBe(`wss://${IN_URL}:${IN_URL}@h:8443/ws`);
    expect(redactUrl('wss://eyJhbGciOi@h/ws')).toBe(`wss://${IN_URL}@h/ws`);
  });

  it('leaves a URL without credentials as it was, and a string that is not a URL untouched', () => {
    expect(redactUrl('ws://127.0.0.1:8080/ws?room=1')).toBe('ws://127.0.0.1:8080/ws?room=1');
    expect(redactUrl('http://127.0.0.1:9/health')).toBe('http://127.0.0.1:9/health');
    expect(redactUrl('not a url ?token=x')).toBe('not a url ?token=x');
  });
});

describe('redactValues', () => {
  it('replaces every occurrence of every secret in every string, at any depth; other values untouched', () => {
    const value = {
      name: 'run',
      target: { url: 'wss://h/ws?t=sk-1234', headers: { 'X-Custom': 'sk-1234', 'X-Both': 'a sk-1234 b sk-1234 c' } },
      list: ['sk-1234', { deep: ['x', 'prefix-sk-1234-suffix'] }],
      n: 1234,
      ok: true,
      none: null,
    };
    expect(redactValues(value, ['sk-1234'])).toEqual({
      name: 'run',
      target: { url: `wss://h/ws?t=${REDACTED}`, headers: { 'X-Custom': REDACTED, 'X-Both': `a ${REDACTED} b ${REDACTED} c` } },
      list: [REDACTED, { deep: ['x', `prefix-${REDACTED}-suffix`] }],
      n: 1234,
      ok: true,
      none: null,
    });
    expect(value.target.headers['X-Custom']).toBe('sk-1234'); // a copy, not an edit
  });

  it('longer secrets first, so a secret containing another is hidden whole', () => {
    expect(redactValues(['xabcdefx', 'abcd'], ['abcd', 'abcdef'])).toEqual([`x${REDACTED}x`, REDACTED]);
  });

  it('with no secrets returns the value itself', () => {
    const value = { a: 'b' };
    expect(redactValues(value, [])).toBe(value);
  });
});

describe('scenario.json: the loaded scenario\'s secrets never reach it', () => {
  it('secret-named variables anywhere, headers, subprotocols, URL tokens, health URL, start.env', () => {
    const token = 'sk-live-0123456789abcdef';
    const env = { STAGING_TOKEN: token, DB_PASSWORD: 'hunter22', ROOM: 'lobby-42', API_KEY: 'abc' };
    const text =
      `name: secret\n` +
      `target:\n  url: "wss://bot:\${DB_PASSWORD}@127.0.0.1:9/ws?room=\${ROOM}&access_token=\${STAGING_TOKEN}"\n` +
      `  headers: { Authorization: "Bearer \${STAGING_TOKEN}", X-Tenant: "t-\${STAGING_TOKEN}-x", X-Room: "\${ROOM}", X-Short: "\${API_KEY}", X-Session: plain }\n` +
      `  secretHeaders: [x-session]\n` +
      `  subprotocols: [jwt-auth, "jwt.\${STAGING_TOKEN}"]\n` +
      `  start:\n    command: "serve --token=\${STAGING_TOKEN}"\n    env: { API_KEY: "\${STAGING_TOKEN}" }\n` +
      `load:\n  stages: [{ duration: 1s, rate: 1 }]\n` +
      `timeline:\n  health: { url: "http://127.0.0.1:9/health?token=\${STAGING_TOKEN}" }\n`;
    const loaded = parseScenarioText(text, 'secret.yaml', {}, env);
    // Values of secret-named variables of 4 characters or more are the scenario's secrets.
    expect(new Set(loaded.secrets)).toEqual(new Set([token, 'hunter22']));
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-redact-'));
    writeScenarioCopy(dir, loaded.scenario, loaded.secrets);
    const written = readFileSync(join(dir, 'scenario.json'), 'utf8');
    expect(written).not.toContain(token);
    expect(written).not.toContain('hunter22');
    const copy = JSON.parse(written);
    expect(copy.target.url).toBe(`wss://${IN_URL}:${IN_URL}@127.0.0.1:9/ws?room=lobby-42&access_token=${IN_URL}`);
    expect(copy.target.headers).toEqual({ Authorization: REDACTED, 'X-Tenant': `t-${REDACTED}-x`, 'X-Room': 'lobby-42', 'X-Short': 'abc', 'X-Session': REDACTED });
    expect(copy.target.subprotocols).toEqual(['jwt-auth', `jwt.${REDACTED}`]);
    expect(copy.target.start).toMatchObject({ command: `serve --token=${REDACTED}`, env: { API_KEY: REDACTED } });
    expect(copy.timeline.health.url).toBe(`http://127.0.0.1:9/health?token=${IN_URL}`);
  });
});
