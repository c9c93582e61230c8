import { describe, expect, it } from 'vitest';
import { DEFAULT_LOG_PATTERNS, parseLogLine, parseTimestamp, type LogPatterns } from '../src/timeline/log-source.js';
import { TimelineSources } from '../src/timeline/sources.js';
import { formatCompleted, formatFailed, formatReady, formatTransition } from '../src/sim/log.js';
import { parseScenarioText } from '../src/scenario/load.js';

/** When the line was read (epoch ms): the event's time unless the line carries its own. */
const READ_AT = 1_700_000_000_500;
const parse = (line: string, patterns: LogPatterns = DEFAULT_LOG_PATTERNS) => parseLogLine(line, patterns, READ_AT);
const phaseOf = (name: string) => [{ kind: 'phase', source: 'log', at: READ_AT, phase: name }];
const READY = [{ kind: 'ready', source: 'log', at: READ_AT }];
const failedWith = (line: string) => [{ kind: 'failed', source: 'log', at: READ_AT, reason: line.trim() }];

describe('default log patterns: the backend\'s own lines', () => {
  it('PHASE TRANSITION  ->  <phase>, bare or behind a logger prefix', () => {
    expect(parse('PHASE TRANSITION  ->  database')).toEqual(phaseOf('database'));
    expect(parse('2025-01-10 12:00:00,123 - netra_backend.app.startup - INFO - PHASE TRANSITION  ->  dependencies')).toEqual(phaseOf('dependencies'));
    expect(parse('\x1b[32mINFO\x1b[0m  [startup] PHASE TRANSITION -> websocket   (t=14.1s)')).toEqual(phaseOf('websocket'));
    expect(parse('PHASE TRANSITION\t->\tllm_manager')).toEqual(phaseOf('llm_manager'));
    expect(parse('PHASE TRANSITION  ->  agent-supervisor.v2')).toEqual(phaseOf('agent-supervisor.v2'));
    expect(parse('PHASE TRANSITION  ->  cache\r')).toEqual(phaseOf('cache'));
  });

  it('PHASE COMPLETED is not a transition, nor readiness', () => {
    expect(parse('PHASE COMPLETED: database (1.234s)')).toEqual([]);
    expect(parse('2025-01-10 12:00:01,000 - startup - INFO - PHASE COMPLETED: init (2.415s)')).toEqual([]);
  });

  it('readiness: STARTUP COMPLETE and uvicorn\'s "Application startup complete."', () => {
    expect(parse('STARTUP COMPLETE: service ready (14.084s)')).toEqual(READY);
    expect(parse('2025-01-10 12:00:14,084 - startup - INFO - STARTUP COMPLETE')).toEqual(READY);
    expect(parse('INFO:     Application startup complete.')).toEqual(READY);
  });

  it('failure: STARTUP FAILED, "Startup failed" and uvicorn\'s "Application startup failed", with the line as its reason', () => {
    for (const line of [
      'STARTUP FAILED: Phase dependencies timed out after 1.5s',
      '2025-01-10 12:00:03,000 - startup - ERROR - Startup failed: redis unreachable',
      'ERROR:    Application startup failed. Exiting.',
      '   STARTUP FAILED   ',
    ]) {
      expect(parse(line), line).toEqual(failedWith(line));
    }
  });

  it('a failure reason is the trimmed line, cut at 200 characters', () => {
    const long = `STARTUP FAILED: ${'x'.repeat(300)}`;
    expect(parse(long)).toEqual([{ kind: 'failed', source: 'log', at: READ_AT, reason: long.slice(0, 200) }]);
  });

  it('a line saying both failed and complete counts as failed only', () => {
    const line = 'STARTUP COMPLETE was never reached: STARTUP FAILED';
    expect(parse(line)).toEqual(failedWith(line));
  });

  it('lines that must not match: uvicorn\'s other startup lines, other casing, other arrows, no phase name', () => {
    for (const line of [
      'INFO:     Started server process [42]',
      'INFO:     Waiting for application startup.',
      'INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)',
      'INFO:     Application shutdown complete.',
      'phase transition -> database',
      'Phase Transition -> database',
      'PHASE TRANSITION  =>  database',
      'PHASE TRANSITION  ->  ',
      'PHASE TRANSITION',
      'PHASE  TRANSITION -> database',
      'Startup complete',
      'startup failed',
      'STARTUP IN PROGRESS',
      '',
    ]) {
      expect(parse(line), JSON.stringify(line)).toEqual([]);
    }
  });
});

describe('default log patterns: the simulator\'s lines, as it writes them', () => {
  it('transition, completed, ready and failed', () => {
    expect(parse(formatTransition('websocket'))).toEqual(phaseOf('websocket'));
    expect(parse(formatCompleted('websocket', 1234))).toEqual([]);
    expect(parse(formatReady(19_498))).toEqual(READY);
    const failed = formatFailed('Phase dependencies timed out after 1.155s');
    expect(parse(failed)).toEqual(failedWith(failed));
  });
});

describe('a line\'s own timestamp', () => {
  const withTime: LogPatterns = { ...DEFAULT_LOG_PATTERNS, time: /^(?<ts>\S+)/ };

  it('is the event time when the time pattern finds one it can read', () => {
    expect(parseLogLine('2025-01-10T12:00:00.125Z PHASE TRANSITION  ->  init', withTime, READ_AT)).toEqual([{ kind: 'phase', source: 'log', at: Date.parse('2025-01-10T12:00:00.125Z'), phase: 'init' }]);
    expect(parseLogLine('1736510400.5 STARTUP COMPLETE', withTime, READ_AT)).toEqual([{ kind: 'ready', source: 'log', at: 1_736_510_400_500 }]);
    expect(parseLogLine('1736510400500 STARTUP COMPLETE', withTime, READ_AT)).toEqual([{ kind: 'ready', source: 'log', at: 1_736_510_400_500 }]);
  });

  it('falls back to the time the line was read when it cannot', () => {
    expect(parseLogLine('garbage STARTUP COMPLETE', withTime, READ_AT)).toEqual(READY);
    expect(parseLogLine('STARTUP COMPLETE', { ...DEFAULT_LOG_PATTERNS, time: /ts=(?<ts>\S+)/ }, READ_AT)).toEqual(READY);
  });

  it('parseTimestamp reads ISO 8601 and epoch seconds or milliseconds', () => {
    expect(parseTimestamp('2025-01-10T12:00:00Z')).toBe(Date.parse('2025-01-10T12:00:00Z'));
    expect(parseTimestamp(' 2025-01-10T12:00:00.250+01:00 ')).toBe(Date.parse('2025-01-10T11:00:00.250Z'));
    expect(parseTimestamp('1736510400')).toBe(1_736_510_400_000);
    expect(parseTimestamp('1736510400.25')).toBe(1_736_510_400_250);
    expect(parseTimestamp('1736510400250')).toBe(1_736_510_400_250);
    expect(parseTimestamp('not a time')).toBeNull();
  });
});

describe('a scenario\'s log patterns', () => {
  const scenario = (log: string) => parseScenarioText(`name: p\ntarget:\n  url: ws://127.0.0.1:9/ws\nload:\n  stages: [{ duration: 1s, rate: 1 }]\ntimeline:\n  log: ${log}\n`, 'p.yaml').scenario;

  it('are the defaults unless it names its own, key by key', () => {
    expect(TimelineSources.logPatterns(scenario('{ file: /tmp/app.log }'))).toEqual({ ...DEFAULT_LOG_PATTERNS, time: undefined });
    const own = TimelineSources.logPatterns(scenario(`{ file: /tmp/app.log, ready: 'listening on \\d+', time: '^(?<ts>\\S+)' }`));
    expect(own.phase).toBe(DEFAULT_LOG_PATTERNS.phase);
    expect(own.failed).toBe(DEFAULT_LOG_PATTERNS.failed);
    expect(parseLogLine('listening on 8000', own, READ_AT)).toEqual(READY);
    expect(parseLogLine('STARTUP COMPLETE', own, READ_AT)).toEqual([]);
  });
});
