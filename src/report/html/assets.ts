import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * What report.html inlines besides its data: uPlot's IIFE build and CSS (from node_modules) and
 * the page's own script and style (client.js and style.css next to this module: in src/ under
 * tsx, copied to dist/ by `npm run build`). Read once per process.
 */
export interface PageAssets {
  uplotJs: string;
  clientJs: string;
  /** uPlot's CSS, then the page's. */
  css: string;
}

let assets: PageAssets | null = null;

/** Inline script text, checked to be unable to end its element early; CR LF as the parser sees it. */
function inlineScript(js: string): string {
  const text = js.replace(/\r\n?/g, '\n');
  if (/<\/script|<!--/i.test(text)) throw new Error('inline script contains "</script" or "<!--"');
  return text;
}

function inlineStyle(css: string): string {
  if (/<\/style/i.test(css)) throw new Error('inline CSS contains "</style"');
  return css;
}

export function pageAssets(): PageAssets {
  if (!assets) {
    const require = createRequire(import.meta.url);
    const own = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
    assets = {
      uplotJs: inlineScript(readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8')),
      clientJs: inlineScript(own('client.js')),
      css: inlineStyle(`${readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8')}\n${own('style.css')}`),
    };
  }
  return assets;
}
