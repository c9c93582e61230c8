/**
 * Server-provided text (close reasons, status lines, headers) made safe for a terminal: control
 * characters, C1 controls and bidi overrides are shown as escapes, so a hostile server cannot
 * move the cursor, recolour the screen or reorder what the user reads.
 */
export function printable(text: string, maxLength = 200): string {
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return escaped.length > maxLength ? `${escaped.slice(0, maxLength - 1)}…` : escaped;
}
