// @ts-check
/**
 * report.html's script: draws the charts (three; more with a message stream or a population)
 * with uPlot (inlined before it as a global) from the JSON embedded in the page. It only ever sets textContent. html.ts inlines this file as it
 * is, as a classic script; its names live in the block below, not on window (strict mode scopes
 * a block's functions to the block). Type-checked by tsconfig.client.json (DOM, no Node).
 */
'use strict';

/** @typedef {import('./page-data.js').PageData} PageData */
/** @typedef {{ opts: Omit<uPlot.Options, 'width'>, data: uPlot.AlignedData }} ChartSpec */

{
  /** @type {PageData} */
  const D = JSON.parse(String(document.getElementById('data')?.textContent));
  const R = D.report;
  const V = D.view;
  const B = R.perSecond.bucketS || 1;
  const dpr = () => window.devicePixelRatio || 1;
  /** @type {{ el: HTMLElement, u: uPlot }[]} */
  const charts = [];
  /** The charts over time, which zoom together. @type {uPlot[]} */
  const timeCharts = [];
  let zooming = false;

  /** @param {HTMLElement} el */
  function widthOf(el) {
    return Math.max(320, Math.floor(el.getBoundingClientRect().width));
  }
  /** @param {uPlot} _u @param {number | null} v */
  function secondLabel(_u, v) {
    return v == null ? '--' : (v - B / 2).toFixed(B < 1 ? 2 : 0) + ' s to ' + (v + B / 2).toFixed(B < 1 ? 2 : 0) + ' s';
  }
  /** @param {number | null} v */
  function fmtMs(v) {
    return v == null ? '--' : (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ms';
  }
  /** @param {string} hex @param {number} a */
  function hexA(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }

  /** A band's left and right edge in canvas pixels, clipped to the plot; null when nothing of it shows. @param {uPlot} u @param {{ startS: number, endS: number }} band */
  function bandEdges(u, band) {
    const b = u.bbox;
    const x0 = Math.max(b.left, u.valToPos(band.startS, 'x', true));
    const x1 = Math.min(b.left + b.width, u.valToPos(band.endS, 'x', true));
    return x1 <= x0 ? null : { x0, x1 };
  }

  // Phase bands behind the plot, a labelled strip along its top, the readiness line.
  /** @param {uPlot} u */
  function bandsBackground(u) {
    const ctx = u.ctx;
    const b = u.bbox;
    ctx.save();
    V.bands.forEach(function (band) {
      const e = bandEdges(u, band);
      if (!e) return;
      ctx.fillStyle = hexA(band.color, 0.13);
      ctx.fillRect(e.x0, b.top, e.x1 - e.x0, b.height);
    });
    ctx.restore();
  }
  /** @param {uPlot} u @param {boolean} withLabels */
  function bandsStrip(u, withLabels) {
    const ctx = u.ctx;
    const b = u.bbox;
    const h = Math.round(16 * dpr());
    ctx.save();
    ctx.font = Math.round(11 * dpr()) + 'px system-ui, sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    V.bands.forEach(function (band) {
      const e = bandEdges(u, band);
      if (!e) return;
      ctx.fillStyle = hexA(band.color, 0.9);
      ctx.fillRect(e.x0, b.top, e.x1 - e.x0, h);
      if (withLabels && e.x1 - e.x0 > 24 * dpr()) {
        ctx.save();
        ctx.beginPath();
        ctx.rect(e.x0, b.top, e.x1 - e.x0, h);
        ctx.clip();
        ctx.fillStyle = '#fff';
        ctx.fillText(band.phase, e.x0 + 4 * dpr(), b.top + h / 2);
        ctx.restore();
      }
    });
    ctx.restore();
  }
  /** @param {uPlot} u @param {number | null} atS @param {string} color @param {string} label */
  function marker(u, atS, color, label) {
    if (atS == null) return;
    const ctx = u.ctx;
    const b = u.bbox;
    const x = Math.round(u.valToPos(atS, 'x', true));
    if (x < b.left || x > b.left + b.width) return;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * dpr();
    ctx.setLineDash([6 * dpr(), 4 * dpr()]);
    ctx.beginPath();
    ctx.moveTo(x, b.top);
    ctx.lineTo(x, b.top + b.height);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.font = 'bold ' + Math.round(11 * dpr()) + 'px system-ui, sans-serif';
    ctx.fillStyle = color;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.fillText(label, x + 4 * dpr(), b.top + 20 * dpr());
    ctx.restore();
  }
  /** @param {boolean} withLabels @returns {uPlot.Hooks.Arrays} */
  function timeHooks(withLabels) {
    return {
      init: [function (u) { timeCharts.push(u); }],
      setScale: [shareZoom],
      drawClear: [bandsBackground],
      draw: [function (u) {
        bandsStrip(u, withLabels);
        marker(u, V.readyS, '#1d2330', 'ready');
        marker(u, V.failedS, '#c0392b', 'failed');
      }],
    };
  }
  // Zooming one time chart zooms the other: they share the x axis.
  /** @param {uPlot} u @param {string} key */
  function shareZoom(u, key) {
    if (key !== 'x' || zooming) return;
    zooming = true;
    const { min, max } = u.scales.x;
    timeCharts.forEach(function (o) { if (o !== u) o.setScale('x', { min: /** @type {number} */ (min), max: /** @type {number} */ (max) }); });
    zooming = false;
  }

  /** Draws one chart into its `[data-chart]` element, or says there why it could not. @param {string} name @param {(el: HTMLElement) => ChartSpec | null} build */
  function make(name, build) {
    const el = /** @type {HTMLElement | null} */ (document.querySelector('[data-chart="' + name + '"]'));
    if (!el) return;
    try {
      const spec = build(el);
      if (!spec) return;
      let drew = false;
      /** @type {uPlot.Options} */
      const opts = { ...spec.opts, width: widthOf(el) };
      /** @type {uPlot.Hooks.Arrays} */
      const hooks = opts.hooks || {};
      opts.hooks = hooks;
      (hooks.draw = hooks.draw || []).push(function () {
        drew = true;
      });
      (hooks.ready = hooks.ready || []).push(function (u) {
        if (drew && u.ctx.canvas.width > 0 && u.ctx.canvas.height > 0) el.setAttribute('data-drawn', 'true');
      });
      charts.push({ el, u: new uPlot(opts, spec.data, el) });
    } catch (err) {
      const p = document.createElement('p');
      p.className = 'error';
      p.textContent = 'Could not draw this chart: ' + (err instanceof Error && err.message ? err.message : String(err));
      el.appendChild(p);
      console.error(err);
    }
  }
  /** @param {HTMLElement} el @param {string} text @returns {null} */
  function empty(el, text) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = text;
    el.appendChild(p);
    el.setAttribute('data-empty', 'true');
    el.style.minHeight = '0';
    return null;
  }

  // The whole run by default (and on double-click reset); a drag-zoom inside it is kept.
  /** @type {uPlot.Scale} */
  const xRange = {
    time: false,
    range: function (u, min, max) {
      const d = u.data[0];
      if (min == null || max == null || !d.length || (min <= d[0] && max >= d[d.length - 1])) return [V.xMin, V.xMax];
      return [min, max];
    },
  };
  /** @type {uPlot.Axis} */
  const xAxis = { label: 'seconds since T0', values: function (_u, vals) { return vals.map(function (v) { return v + ' s'; }); } };
  /** @type {uPlot.Cursor.Sync} */
  const sync = { key: 'wsrace-time', setSeries: false };

  /**
   * Counts per bucket as stacked bars, drawn as a rate (per second) so the axis reads the same for
   * any bucket; `line`, when given, is drawn over them (not part of the stack).
   * @param {number[]} t bucket starts
   * @param {{ label: string, color: string, counts: number[] }[]} layers bottom first
   * @param {string} yLabel
   * @param {{ label: string, counts: number[] } | null} line
   * @param {boolean} withLabels phase names on the band strip
   * @returns {ChartSpec}
   */
  function stackedBars(t, layers, yLabel, line, withLabels) {
    // Each series holds the running total; band i gives bar i its lower edge.
    let running = t.map(function () { return 0; });
    const stacked = layers.map(function (l) {
      running = running.map(function (r, i) { return r + l.counts[i] / B; });
      return running.slice();
    });
    let top = running.reduce(function (a, b) { return Math.max(a, b); }, 0);
    // Each bar is centred on its bucket's middle, so the cursor picks the bar it is over.
    const bars = /** @type {NonNullable<uPlot.Series.PathBuilderFactories['bars']>} */ (uPlot.paths.bars)({ align: 0, size: [0.92, Infinity] });
    /** @type {uPlot.Series[]} */
    const series = [{ label: 'time', value: secondLabel }];
    layers.forEach(function (l) {
      series.push({
        label: l.label,
        stroke: l.color,
        fill: l.color,
        width: 0,
        paths: bars,
        points: { show: false },
        value: function (_u, _v, _si, i) { return i == null ? '--' : l.counts[i]; },
      });
    });
    /** @type {uPlot.Band[]} */
    const bands = layers.slice(1).map(function (_l, i) { return { series: [i + 2, i + 1] }; });
    if (line) {
      const counts = line.counts;
      series.push({ label: line.label, stroke: '#111', width: 2, dash: [6, 4], points: { show: false }, value: function (_u, _v, _si, i) { return i == null ? '--' : counts[i]; } });
      stacked.push(counts.map(function (n) { return n / B; }));
      top = Math.max(top, counts.reduce(function (a, b) { return Math.max(a, b / B); }, 0));
    }
    return {
      data: [t.map(function (x) { return x + B / 2; }), ...stacked],
      opts: {
        height: 340,
        cursor: { sync: sync, points: { show: false } },
        scales: { x: xRange, y: { range: function () { return [0, Math.max(1, top) * 1.2]; } } },
        axes: [xAxis, { label: yLabel, size: 56 }],
        series: series,
        bands: bands,
        hooks: timeHooks(withLabels),
      },
    };
  }

  /** Attempts per bucket, stacked by outcome, as a rate; retries as a line over the bars. @returns {ChartSpec} */
  function timelineChart() {
    const ps = R.perSecond;
    const layers = V.outcomes.map(function (o) { return { label: o.label, color: o.color, counts: ps[o.key] }; });
    // Reconnecting clients: the retry load as a line over the bars.
    const hasRetries = (ps.retries || []).some(function (n) { return n > 0; });
    return stackedBars(ps.t, layers, 'attempts per second', hasRetries ? { label: 'retries', counts: ps.retries } : null, true);
  }

  /** Sockets open at the end of each bucket: the population's connected clients (and the arrivals' sockets beside them). @returns {ChartSpec | null} */
  function connectedChart() {
    const p = R.population;
    if (!p) return null;
    const lines = p.arrivals ? [p.connected, p.arrivals] : [p.connected];
    const top = lines.reduce(function (m, l) { return l.reduce(function (a, b) { return Math.max(a, b); }, m); }, 0);
    /** @type {uPlot.Series[]} */
    const series = [
      { label: 'time', value: function (_u, v) { return v == null ? '--' : v.toFixed(B < 1 ? 2 : 0) + ' s'; } },
      { label: 'connected', stroke: '#2e9e5b', width: 2, fill: 'rgba(46,158,91,0.12)', points: { show: false } },
    ];
    if (p.arrivals) series.push({ label: "arrivals' sockets", stroke: '#5b7bd5', width: 1.5, dash: [6, 4], points: { show: false } });
    return {
      data: /** @type {uPlot.AlignedData} */ ([p.t.map(function (x) { return x + p.bucketS; })].concat(lines)),
      opts: {
        height: 300,
        cursor: { sync: sync },
        scales: { x: xRange, y: { range: function () { return [0, Math.max(1, top) * 1.15]; } } },
        axes: [xAxis, { label: 'open sockets', size: 56 }],
        series: series,
        hooks: timeHooks(true),
      },
    };
  }

  /** Disconnects per bucket of their close, stacked by close code. @param {HTMLElement} el @returns {ChartSpec | null} */
  function disconnectsChart(el) {
    const p = R.population;
    if (!p) return null;
    if (!p.disconnects.some(function (d) { return d.counts.some(function (n) { return n > 0; }); })) return empty(el, 'No disconnects.');
    const colors = V.closeCodes || [];
    const layers = p.disconnects.map(function (d, i) { return { label: d.code, color: colors[i] ? colors[i].color : '#9aa0a6', counts: d.counts }; });
    return stackedBars(p.t, layers, 'disconnects per second', null, false);
  }

  /** The reconnect herd: retries per bucket of scheduled start, stacked by outcome. @param {HTMLElement} el @returns {ChartSpec | null} */
  function herdChart(el) {
    const p = R.population;
    if (!p) return null;
    const outcomes = V.herdOutcomes || V.outcomes;
    if (!outcomes.some(function (o) { return p.herd[o.key].some(function (n) { return n > 0; }); })) return empty(el, 'No client retried.');
    const layers = outcomes.map(function (o) { return { label: o.label, color: o.color, counts: p.herd[o.key] }; });
    return stackedBars(p.t, layers, 'retries per second', null, false);
  }

  /**
   * p50 and p99 per bucket as two lines, or a note where no bucket has a value.
   * @param {HTMLElement} el @param {{ t: number[], p50: (number | null)[], p99: (number | null)[] }} h @param {string} yLabel @param {string} none
   * @returns {ChartSpec | null}
   */
  function percentileLines(el, h, yLabel, none) {
    if (!h.p50.some(function (v) { return v != null; })) return empty(el, none);
    const mid = h.t.map(function (t) { return t + B / 2; });
    return {
      data: [mid, h.p50, h.p99],
      opts: {
        height: 300,
        cursor: { sync: sync },
        scales: { x: xRange, y: { range: function (_u, _min, max) { return [0, Math.max(1, max || 0) * 1.15]; } } },
        axes: [xAxis, { label: yLabel, size: 56 }],
        series: [
          { label: 'time', value: secondLabel },
          { label: 'p50', stroke: '#4e79a7', width: 2, points: { show: true, size: 5 }, value: function (_u, v) { return fmtMs(v); } },
          { label: 'p99', stroke: '#d64545', width: 2, points: { show: true, size: 5 }, value: function (_u, v) { return fmtMs(v); } },
        ],
        hooks: timeHooks(false),
      },
    };
  }

  /** p50 and p99 of the handshakes that opened, per bucket. @param {HTMLElement} el */
  function latencyChart(el) {
    return percentileLines(el, R.handshakeOverTime, 'handshake (ms)', 'No attempt opened: no handshake latency to plot.');
  }

  /** session.stream: round-trip p50 and p99 of the messages sent in each bucket. @param {HTMLElement} el */
  function messageRttChart(el) {
    const m = R.messagesOverTime;
    if (!m) return null;
    return percentileLines(el, m, 'round trip (ms)', 'No message was answered: no round trip to plot.');
  }

  /** session.stream: messages lost and answered late per bucket of send time, stacked bars. @param {HTMLElement} el @returns {ChartSpec | null} */
  function messageLossChart(el) {
    const m = R.messagesOverTime;
    if (!m) return null;
    const upToLate = m.lost.map(function (n, i) { return n + m.late[i]; });
    const top = upToLate.reduce(function (a, b) { return Math.max(a, b); }, 0);
    if (top === 0) return empty(el, 'No message was lost or answered late.');
    const bars = /** @type {NonNullable<uPlot.Series.PathBuilderFactories['bars']>} */ (uPlot.paths.bars)({ align: 0, size: [0.92, Infinity] });
    /** @param {number[]} counts @returns {uPlot.Series.Value} */
    const ofSent = function (counts) {
      return function (_u, _v, _si, i) {
        if (i == null) return '--';
        const sent = m.sent[i];
        return counts[i] + ' of ' + sent + (sent > 0 ? ' (' + ((100 * counts[i]) / sent).toFixed(1) + '%)' : '');
      };
    };
    return {
      data: [m.t.map(function (t) { return t + B / 2; }), m.lost, upToLate],
      opts: {
        height: 260,
        cursor: { sync: sync, points: { show: false } },
        scales: { x: xRange, y: { range: function () { return [0, Math.max(1, top) * 1.2]; } } },
        axes: [xAxis, { label: 'messages per ' + (B >= 1 ? B + ' s' : Math.round(B * 1000) + ' ms'), size: 56 }],
        series: [
          { label: 'sent', value: secondLabel },
          { label: 'lost', stroke: '#d64545', fill: '#d64545', width: 0, paths: bars, points: { show: false }, value: ofSent(m.lost) },
          { label: 'late', stroke: '#e3b505', fill: '#e3b505', width: 0, paths: bars, points: { show: false }, value: ofSent(m.late) },
        ],
        bands: [{ series: [2, 1] }],
        hooks: timeHooks(false),
      },
    };
  }

  /** Every opened handshake's percentile tick, x = 1/(1 − percentile) on a log scale. @param {HTMLElement} el @returns {ChartSpec | null} */
  function distributionChart(el) {
    const pts = R.distribution;
    if (pts.length === 0) return empty(el, 'No attempt opened: no handshake distribution.');
    // x = 1/(1 - percentile); the 100% row (infinite) is drawn one doubling past the last finite one.
    /** @type {number[]} */
    const xs = [];
    let lastX = 1;
    pts.forEach(function (p) {
      const x = p.percentile >= 100 ? Math.max(2, lastX * 2) : 1 / (1 - p.percentile / 100);
      xs.push(x);
      if (p.percentile < 100) lastX = x;
    });
    const xMax = Math.pow(10, Math.ceil(Math.log10(Math.max(10, xs[xs.length - 1]))));
    /** @param {number} v */
    const pctLabel = function (v) {
      const p = 100 * (1 - 1 / v);
      return (Math.round(p * 1000) / 1000) + '%';
    };
    return {
      data: [xs, pts.map(function (p) { return p.valueMs; })],
      opts: {
        height: 300,
        cursor: { points: { size: 7 } },
        scales: { x: { time: false, distr: 3, log: 10, range: function () { return [1, xMax]; } }, y: { range: function (_u, _min, max) { return [0, Math.max(0.001, max || 0) * 1.1]; } } },
        axes: [
          { label: 'percentile', values: function (_u, vals) { return vals.map(function (v) { return v == null ? '' : pctLabel(v); }); } },
          { label: 'handshake (ms)', size: 56 },
        ],
        series: [
          { label: 'percentile', value: function (_u, _v, _si, i) { return i == null ? '--' : pts[i].percentile + '% (' + pts[i].count + ')'; } },
          { label: 'handshake (opened)', stroke: '#4e79a7', width: 2, fill: 'rgba(78,121,167,0.08)', points: { show: false }, value: function (_u, v) { return fmtMs(v); } },
        ],
      },
    };
  }

  make('timeline', timelineChart);
  make('latency', latencyChart);
  make('message-rtt', messageRttChart);
  make('message-loss', messageLossChart);
  make('distribution', distributionChart);
  make('connected', connectedChart);
  make('disconnects', disconnectsChart);
  make('herd', herdChart);

  /** @type {number | null} */
  let pending = null;
  window.addEventListener('resize', function () {
    if (pending) cancelAnimationFrame(pending);
    pending = requestAnimationFrame(function () {
      charts.forEach(function (c) { c.u.setSize({ width: widthOf(c.el), height: c.u.height }); });
    });
  });
}
