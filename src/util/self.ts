import { fileURLToPath } from 'node:url';

/** This wsrace's CLI entry (bin/wsrace.js); this module sits two levels below the package root in src/ and dist/. */
export function wsraceBin(): string {
  return fileURLToPath(new URL('../../bin/wsrace.js', import.meta.url));
}
