/**
 * junit.xml for CI: one test case per threshold plus one for the run itself, so a CI test
 * report shows which threshold failed and with what value, and that a run was cut short.
 */
export interface JunitInput {
  scenario: string;
  durationMs: number;
  verdict: 'pass' | 'fail';
  partial: boolean;
  interruptedBy: string | null;
  /** The abortOnFail threshold that stopped the run (absent in older runs). */
  abortedBy?: string | null;
  workers: { worker: number; error: string | null }[];
  thresholds: { expr: string; ok: boolean; actual: number | null }[];
  totals: { attempted: number };
  outDir?: string;
}

// Characters XML 1.0 cannot carry at all, not even as character references: C0 controls other
// than tab/LF/CR, U+FFFE/U+FFFF and unpaired surrogates. Close reasons and server-supplied error
// text may contain any of them; they are dropped.
const INVALID_XML = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // Parsers turn a raw CR into LF, and raw LF/tab in attributes into spaces: keep them as references.
  '\r': '&#13;',
  '\n': '&#10;',
  '\t': '&#9;',
};

/** Escapes for attribute values (quotes, and whitespace that attribute normalisation would eat). */
export function escapeXmlAttr(s: string): string {
  return s.replace(INVALID_XML, '').replace(/[&<>"'\r\n\t]/g, (c) => ENTITIES[c]);
}

/** Escapes for element text: newlines and tabs stay literal, a CR stays a CR. */
export function escapeXmlText(s: string): string {
  return s.replace(INVALID_XML, '').replace(/[&<>"'\r]/g, (c) => ENTITIES[c]);
}

const seconds = (ms: number) => (Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0).toFixed(3);
const showActual = (actual: number | null) => (actual === null ? 'none' : String(actual));

function testcase(classname: string, name: string, time: string, failure?: { message: string; type: string; body: string }): string {
  const open = `    <testcase classname="${escapeXmlAttr(classname)}" name="${escapeXmlAttr(name)}" time="${time}"`;
  if (!failure) return `${open}/>\n`;
  return (
    `${open}>\n` +
    `      <failure message="${escapeXmlAttr(failure.message)}" type="${escapeXmlAttr(failure.type)}">${escapeXmlText(failure.body)}</failure>\n` +
    '    </testcase>\n'
  );
}

/** Why the run itself counts as failed (cut short, or a worker died); empty when it completed. */
function runProblems(input: JunitInput): string[] {
  const problems: string[] = [];
  if (input.partial) {
    problems.push(input.interruptedBy ? `run interrupted: ${input.interruptedBy}` : input.abortedBy ? `run stopped by abortOnFail threshold: ${input.abortedBy}` : 'run did not complete (partial results)');
  }
  for (const w of input.workers) {
    if (w.error !== null) problems.push(`worker ${w.worker} failed: ${w.error}`);
  }
  return problems;
}

export function renderJunit(input: JunitInput): string {
  const suite = `wsrace.${input.scenario}`;
  const time = seconds(input.durationMs);
  const cases: string[] = [];

  const problems = runProblems(input);
  cases.push(
    testcase(
      suite,
      'run completed',
      time,
      problems.length === 0
        ? undefined
        : {
            message: problems.join('; '),
            type: 'run',
            body: [...problems, `attempted: ${input.totals.attempted}`, ...(input.outDir ? [`reports: ${input.outDir}`] : [])].join('\n'),
          },
    ),
  );

  for (const t of input.thresholds) {
    const actual = showActual(t.actual);
    cases.push(
      testcase(
        `${suite}.thresholds`,
        t.expr,
        '0.000',
        t.ok ? undefined : { message: `expected ${t.expr}, actual ${actual}`, type: 'threshold', body: `expected: ${t.expr}\nactual: ${actual}` },
      ),
    );
  }

  const tests = input.thresholds.length + 1;
  const failures = input.thresholds.filter((t) => !t.ok).length + (problems.length > 0 ? 1 : 0);
  const counts = `tests="${tests}" failures="${failures}" errors="0"`;
  const props = [
    ['verdict', input.verdict],
    ['partial', String(input.partial)],
    ['attempted', String(input.totals.attempted)],
    ...(input.outDir ? [['outDir', input.outDir]] : []),
  ]
    .map(([k, v]) => `      <property name="${escapeXmlAttr(k)}" value="${escapeXmlAttr(v)}"/>\n`)
    .join('');

  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="wsrace" ${counts} time="${time}">\n` +
    `  <testsuite name="${escapeXmlAttr(suite)}" ${counts} skipped="0" time="${time}">\n` +
    `    <properties>\n${props}    </properties>\n` +
    cases.join('') +
    '  </testsuite>\n' +
    '</testsuites>\n'
  );
}
