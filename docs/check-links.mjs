// Checks every relative link in README.md and docs/*.md: the file exists and, for `#anchor`, the
// target Markdown file has a heading with that GitHub slug. Exits 1 listing the broken ones.
//   node docs/check-links.mjs
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown) {
  const seen = new Map();
  const out = new Set();
  for (const line of markdown.replace(/```[\s\S]*?```/g, '').split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*$/.exec(line);
    if (!m) continue;
    const base = m[1].replace(/\\(.)/g, '$1').toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const broken = [];
let checked = 0;
for (const file of files) {
  const text = readFileSync(join(root, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
    checked++;
    const [path, anchor] = target.split('#');
    const dest = path === '' ? join(root, file) : resolve(join(root, dirname(file)), path);
    if (!existsSync(dest)) broken.push(`${file}: ${target}: no such file`);
    else if (anchor !== undefined && dest.endsWith('.md') && !anchors(readFileSync(dest, 'utf8')).has(anchor)) broken.push(`${file}: ${target}: no such heading`);
  }
}
process.stdout.write(`${checked} relative links in ${files.length} files; ${broken.length} broken\n${broken.join('\n')}${broken.length ? '\n' : ''}`);
process.exitCode = broken.length ? 1 : 0;
