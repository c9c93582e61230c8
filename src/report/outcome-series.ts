import type { EventLine } from '../timeline/phase-report.js';

/** The outcome series of report.html's stacked bars, bottom first. */
export const OUTCOME_SERIES = ['opened', 'c1011', 'otherClose', 'http503', 'otherHttp', 'refused', 'timeouts', 'other'] as const;
export type OutcomeSeries = (typeof OUTCOME_SERIES)[number];

/** Which per-second series an attempt counts in. */
export function outcomeSeries(e: Pick<EventLine, 'outcome' | 'code' | 'status'>): OutcomeSeries {
  switch (e.outcome) {
    case 'close': {
      const code = e.code ?? 1006;
      return code === 1000 ? 'opened' : code === 1011 ? 'c1011' : 'otherClose';
    }
    case 'http':
      return e.status === 503 ? 'http503' : 'otherHttp';
    case 'refused':
      return 'refused';
    case 'handshake_timeout':
    case 'expect_timeout':
      return 'timeouts';
    default:
      return 'other'; // reset, error, dropped, interrupted, lost (and any kind added later)
  }
}

