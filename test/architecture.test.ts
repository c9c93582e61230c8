import { readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layers of src/ point one way: a module imports from its own folder and the folders below
 * it, and no two folders import each other. The order is read from docs/architecture.md's table,
 * so the document and this test cannot drift apart.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The package's public API: it sits above every layer and may import any of them. */
const API = 'index.ts';

/** Upward imports tolerated for now, each with its reason; none today. */
const KNOWN_VIOLATIONS: readonly string[] = [];

/** An import from one file of src/ to another, both relative to src/ ("scenario/load.ts"). */
interface Edge {
  from: string;
  to: string;
}

/** The folders of the layer table (rows `| 3 | \`scenario/\` | … |`), bottom layer first. */
function layersFromDoc(markdown: string): string[] {
  const layers: string[] = [];
  for (const line of markdown.split('\n')) {
    const row = /^\|\s*(\d+)\s*\|\s*`([^`/]+)\/`\s*\|/.exec(line);
    if (!row) continue;
    if (Number(row[1]) !== layers.length + 1) throw new Error(`layer table: row "${line}" should be layer ${layers.length + 1}`);
    layers.push(row[2]);
  }
  if (layers.length === 0) throw new Error('layer table: no rows like | 1 | `util/` | … |');
  return layers;
}

/** Module specifiers a source imports: static imports, `export … from`, dynamic `import('…')`. */
function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** The file of src/ a relative specifier names (`.js` in an import is the `.ts` source); null for packages and paths outside src/. */
function resolve(from: string, specifier: string, files: ReadonlySet<string>): string | null {
  if (!specifier.startsWith('.')) return null;
  const target = posix.normalize(posix.join(posix.dirname(from), specifier));
  if (target.startsWith('..')) return null;
  const source = target.replace(/\.js$/, '.ts');
  return files.has(source) ? source : target;
}

/** The layer folder a file belongs to; null for a file at the top of src/. */
function folderOf(file: string): string | null {
  const slash = file.indexOf('/');
  return slash < 0 ? null : file.slice(0, slash);
}

const edgeName = (e: Edge) => `${e.from} → ${e.to}`;

/**
 * Everything wrong with a source tree against the layer order: folders and files outside the
 * table, imports that point up, cycles between folders. `allowed` edges (by name) are skipped;
 * one that is no longer an upward import is reported, so the list only shrinks.
 */
function layerProblems(files: readonly string[], edges: readonly Edge[], layers: readonly string[], allowed: readonly string[] = []): string[] {
  const problems: string[] = [];
  const rank = new Map(layers.map((folder, i) => [folder, i]));
  const folders = new Set(files.map(folderOf).filter((f): f is string => f !== null));
  for (const folder of [...folders].sort()) if (!rank.has(folder)) problems.push(`src/${folder}/ is not in docs/architecture.md's layer table`);
  for (const folder of layers) if (!folders.has(folder)) problems.push(`docs/architecture.md lists src/${folder}/, which has no source files`);
  for (const file of files) if (folderOf(file) === null && file !== API) problems.push(`src/${file} is outside every layer folder (only src/${API}, the package API, sits on top)`);
  const upward = (e: Edge) => upwardImport(e, rank, layers.length);
  for (const name of allowed) {
    if (!edges.some((e) => edgeName(e) === name && upward(e) !== null)) problems.push(`known violation "${name}" is no longer an upward import: remove it from KNOWN_VIOLATIONS`);
  }
  const checked = edges.filter((e) => folderOf(e.from) !== null && folderOf(e.from) !== folderOf(e.to) && !allowed.includes(edgeName(e)));
  for (const e of checked) {
    const why = upward(e);
    if (why !== null) problems.push(`upward import: ${edgeName(e)} (${why})`);
  }
  problems.push(...folderCycles(checked));
  return problems;
}

/** Why an import points up ("low/ is layer 1, mid/ is layer 2"), or null when it does not. */
function upwardImport(e: Edge, rank: ReadonlyMap<string, number>, top: number): string | null {
  const [from, to] = [folderOf(e.from), folderOf(e.to)];
  if (from === null || from === to) return null;
  const [rf, rt] = [rank.get(from), to === null ? top : rank.get(to)];
  if (rf === undefined || rt === undefined || rt <= rf) return null;
  return `${from}/ is layer ${rf + 1}, ${to === null ? `src/${e.to} is the package API` : `${to}/ is layer ${rt + 1}`}`;
}

/** Each set of folders that import each other, as one cycle with the file imports that make it. */
function folderCycles(edges: readonly Edge[]): string[] {
  const graph = new Map<string, Map<string, Edge>>();
  for (const e of edges) {
    const [from, to] = [folderOf(e.from)!, folderOf(e.to)];
    if (to === null) continue;
    if (!graph.has(from)) graph.set(from, new Map());
    if (!graph.get(from)!.has(to)) graph.get(from)!.set(to, e);
  }
  const out: string[] = [];
  const reported = new Set<string>();
  for (const start of [...graph.keys()].sort()) {
    if (reported.has(start)) continue;
    const path = pathBack(graph, start);
    if (!path) continue;
    path.forEach((folder) => reported.add(folder));
    const hops = path.map((folder, i) => graph.get(folder)!.get(path[(i + 1) % path.length])!);
    out.push(`cycle between folders: ${[...path, start].join(' → ')} (${hops.map(edgeName).join('; ')})`);
  }
  return out;
}

/** The shortest walk from `start` back to it (breadth first), as the folders it visits; null if none. */
function pathBack(graph: ReadonlyMap<string, ReadonlyMap<string, Edge>>, start: string): string[] | null {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const next of [...(graph.get(queue[i])?.keys() ?? [])].sort()) {
      if (next === start) {
        const path = [queue[i]];
        while (path[0] !== start) path.unshift(cameFrom.get(path[0])!);
        return path;
      }
      if (cameFrom.has(next)) continue;
      cameFrom.set(next, queue[i]);
      queue.push(next);
    }
  }
  return null;
}

/** Every source file under src/, relative to it, with its imports resolved. */
function readSrc(): { files: string[]; edges: Edge[] } {
  const src = join(ROOT, 'src');
  const files = (readdirSync(src, { recursive: true }) as string[])
    .map((f) => f.split('\\').join('/'))
    .filter((f) => /\.(m?ts|tsx|m?js)$/.test(f) && !f.endsWith('.d.ts'))
    .sort();
  const known = new Set(files);
  const edges: Edge[] = [];
  for (const from of files) {
    for (const specifier of importsOf(readFileSync(join(src, from), 'utf8'))) {
      const to = resolve(from, specifier, known);
      if (to !== null) edges.push({ from, to });
    }
  }
  return { files, edges };
}

describe('architecture: layers that point one way', () => {
  it('src/ imports only point down the layer order of docs/architecture.md, and no two folders import each other', () => {
    const layers = layersFromDoc(readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8'));
    expect(layers[0]).toBe('util');
    expect(layers.at(-1)).toBe('cli');
    const { files, edges } = readSrc();
    expect(edges.length).toBeGreaterThan(100); // the reader found the imports at all
    expect(layerProblems(files, edges, layers, KNOWN_VIOLATIONS)).toEqual([]);
  });
});

describe('architecture: the checker itself', () => {
  const layers = ['low', 'mid', 'high'];
  const files = ['index.ts', 'low/a.ts', 'mid/b.ts', 'mid/sub/c.ts', 'high/d.ts'];

  it('reads the layer table, bottom first, and refuses one numbered out of order', () => {
    const doc = 'intro\n\n| layer | folder | what |\n|---|---|---|\n| 1 | `low/` | base |\n| 2 | `mid/` | middle, with `code` |\n| 3 | `high/` | top |\n\nafter `x/`\n';
    expect(layersFromDoc(doc)).toEqual(['low', 'mid', 'high']);
    expect(() => layersFromDoc('| 1 | `low/` | a |\n| 3 | `high/` | b |')).toThrow('layer table: row "| 3 | `high/` | b |" should be layer 2');
    expect(() => layersFromDoc('no table')).toThrow('layer table: no rows');
  });

  it('reads static, type-only, re-export, side-effect and dynamic imports, not comments or strings', () => {
    const source = [
      "import a from './a.js';",
      "import type { B } from '../b/b.js';",
      "import {\n  c,\n  d,\n} from '../c/c.js';",
      "export { e } from './e.js';",
      "export * from '../f/f.js';",
      "import './side.js';",
      "// import z from '../z/z.js';",
      "const s = \"import q from '../q/q.js'\";",
      "async function g() { return import('../dyn/dyn.js'); }",
      "import fs from 'node:fs';",
    ].join('\n');
    expect(importsOf(source)).toEqual(['./a.js', '../b/b.js', '../c/c.js', './e.js', '../f/f.js', './side.js', '../dyn/dyn.js', 'node:fs']);
  });

  it('resolves specifiers to files of src/ and leaves packages and outside paths alone', () => {
    const known = new Set(files);
    expect(resolve('mid/sub/c.ts', '../../low/a.js', known)).toBe('low/a.ts');
    expect(resolve('mid/b.ts', './sub/c.js', known)).toBe('mid/sub/c.ts');
    expect(resolve('mid/b.ts', 'zod', known)).toBeNull();
    expect(resolve('low/a.ts', '../../bin/x.js', known)).toBeNull();
  });

  it('passes imports that point down, within a folder, or from the package API', () => {
    const edges = [
      { from: 'mid/b.ts', to: 'low/a.ts' },
      { from: 'high/d.ts', to: 'mid/sub/c.ts' },
      { from: 'mid/sub/c.ts', to: 'mid/b.ts' },
      { from: 'index.ts', to: 'high/d.ts' },
    ];
    expect(layerProblems(files, edges, layers)).toEqual([]);
  });

  it('names each upward import file to file, and each cycle between folders once', () => {
    const edges = [
      { from: 'mid/b.ts', to: 'low/a.ts' },
      { from: 'low/a.ts', to: 'mid/sub/c.ts' },
      { from: 'low/a.ts', to: 'high/d.ts' },
      { from: 'high/d.ts', to: 'index.ts' },
    ];
    expect(layerProblems(files, edges, layers)).toEqual([
      'upward import: low/a.ts → mid/sub/c.ts (low/ is layer 1, mid/ is layer 2)',
      'upward import: low/a.ts → high/d.ts (low/ is layer 1, high/ is layer 3)',
      'upward import: high/d.ts → index.ts (high/ is layer 3, src/index.ts is the package API)',
      'cycle between folders: low → mid → low (low/a.ts → mid/sub/c.ts; mid/b.ts → low/a.ts)',
    ]);
  });

  it('finds a cycle through three folders even where each import alone is allowed', () => {
    const edges = [
      { from: 'high/d.ts', to: 'mid/b.ts' },
      { from: 'mid/b.ts', to: 'low/a.ts' },
      { from: 'low/a.ts', to: 'high/d.ts' },
    ];
    expect(layerProblems(files, edges, layers, ['low/a.ts → high/d.ts'])).toEqual([]);
    expect(folderCycles(edges)).toEqual(['cycle between folders: high → mid → low → high (high/d.ts → mid/b.ts; mid/b.ts → low/a.ts; low/a.ts → high/d.ts)']);
  });

  it('refuses folders and top-level files the table does not list, table rows with no folder, and known violations that are gone or point down', () => {
    const extra = [...files, 'stray/e.ts', 'helpers.ts'].filter((f) => f !== 'high/d.ts');
    const down = { from: 'mid/b.ts', to: 'low/a.ts' };
    expect(layerProblems(extra, [down], layers, ['low/a.ts → high/d.ts', 'mid/b.ts → low/a.ts'])).toEqual([
      "src/stray/ is not in docs/architecture.md's layer table",
      'docs/architecture.md lists src/high/, which has no source files',
      'src/helpers.ts is outside every layer folder (only src/index.ts, the package API, sits on top)',
      'known violation "low/a.ts → high/d.ts" is no longer an upward import: remove it from KNOWN_VIOLATIONS',
      'known violation "mid/b.ts → low/a.ts" is no longer an upward import: remove it from KNOWN_VIOLATIONS',
    ]);
  });
});
