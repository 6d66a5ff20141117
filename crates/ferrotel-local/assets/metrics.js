// /metrics: the metric list and, for a selected metric, one SVG time-series chart per attribute set
// (sums and gauges as lines, histograms as p50/p95/p99 lines from their buckets, summaries as
// their quantiles).

import { api, h, fmtTime, nsToUs, attr, attrsObj, serviceColor, LOOKBACKS, lookbackStart, notice, select, field } from './util.js';

const MAX_CHARTS = 60;

export async function renderMetrics(ctx) {
  const { main, url, signal } = ctx;
  const p = url.searchParams;
  const q = { service: p.get('service') || '', name: p.get('name') || '', lookback: p.get('lookback') || '1h' };

  const [{ body: svc }, { body: list }] = await Promise.all([api('/api/v1/services', {}, signal), api('/api/v1/metrics', { service: q.service }, signal)]);
  const services = svc.services || [];
  const metrics = (list.metrics || []).slice().sort((a, b) => (a.name < b.name ? -1 : 1));

  const serviceSel = select('service', [['', 'all services'], ...services.map((s) => [s, s])], q.service);
  const lookSel = select('lookback', LOOKBACKS.map(([v, l]) => [v, `last ${l}`.replace('last all time', 'all time')]), q.lookback);
  const go = (over) => {
    const out = new URLSearchParams();
    const v = { service: serviceSel.value, name: q.name, lookback: lookSel.value, ...over };
    if (v.service) out.set('service', v.service);
    if (v.name) out.set('name', v.name);
    if (v.lookback !== '1h') out.set('lookback', v.lookback);
    ctx.navigate('/metrics?' + out.toString());
  };
  serviceSel.addEventListener('change', () => go({}));
  lookSel.addEventListener('change', () => go({}));
  main.append(
    h('h1', { class: 'visually-hidden' }, 'Metrics'),
    h('form', { class: 'query', 'aria-label': 'Metric filters', onsubmit: (e) => e.preventDefault() }, field('Service', serviceSel), field('Time range', lookSel)),
  );

  const nav = h(
    'nav',
    { class: 'metric-list', 'aria-label': 'Metrics' },
    metrics.length ? null : h('p', { class: 'muted' }, 'No metrics yet.'),
    h(
      'ul',
      {},
      metrics.map((m) => {
        const params = new URLSearchParams();
        if (q.service) params.set('service', q.service);
        params.set('name', m.name);
        if (q.lookback !== '1h') params.set('lookback', q.lookback);
        return h(
          'li',
          {},
          h(
            'a',
            { href: `/metrics?${params}`, class: 'metric-link', 'aria-current': m.name === q.name ? 'page' : null },
            h('span', { class: 'metric-name' }, m.name),
            h('span', { class: `kind kind-${m.kind}` }, m.kind.replace('_', ' ')),
            m.unit ? h('span', { class: 'unit' }, m.unit) : null,
            m.description ? h('span', { class: 'desc' }, m.description) : null,
            h('span', { class: 'metric-services' }, (m.services || []).join(', ')),
          ),
        );
      }),
    ),
  );
  const view = h('section', { class: 'metric-view', 'aria-live': 'polite' });
  main.append(h('div', { class: 'metrics-body' }, nav, view));

  if (!q.name) {
    view.append(h('p', { class: 'muted' }, metrics.length ? 'Choose a metric to draw it.' : ''));
    return;
  }
  const info = metrics.find((m) => m.name === q.name);
  if (info && (info.unit === '1' || /^\{.*\}$/.test(info.unit || ''))) info.unit = ''; // dimensionless
  view.append(
    h('h2', {}, h('span', { class: 'metric-name' }, q.name), info ? h('span', { class: `kind kind-${info.kind}` }, info.kind.replace('_', ' ')) : null, info && info.unit ? h('span', { class: 'unit' }, info.unit) : null),
    info && info.description ? h('p', { class: 'desc' }, info.description) : null,
  );
  let body;
  try {
    ({ body } = await api(`/api/v1/metrics/${encodeURIComponent(q.name)}`, { service: q.service, start: lookbackStart(q.lookback) }, signal));
  } catch (e) {
    if (e.name === 'AbortError') return;
    view.append(notice(e.message, 'error'));
    return;
  }
  const series = collectSeries(body, q.name);
  if (!series.length) {
    view.append(h('p', { class: 'muted' }, 'No data points in this time range.'));
    return;
  }
  view.append(h('p', { class: 'muted' }, `${series.length} series (one per service and attribute set)${series.length > MAX_CHARTS ? `, the first ${MAX_CHARTS} drawn` : ''}.`));
  for (const s of series.slice(0, MAX_CHARTS)) view.append(chartCard(s, info ? info.unit : ''));
}

// ---- data points → series ----

/** Percentile `q` (0..1) of explicit-bucket counts with bounds, interpolated inside the bucket. */
export function histogramQuantile(q, bounds, counts, min, max) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total) return NaN;
  const rank = q * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (!c) continue;
    if (acc + c >= rank) {
      let lo = i === 0 ? (isFinite(min) ? min : Math.min(0, bounds[0] ?? 0)) : bounds[i - 1];
      let hi = i < bounds.length ? bounds[i] : isFinite(max) ? max : (bounds[bounds.length - 1] ?? 0);
      if (isFinite(min)) lo = Math.max(lo, Math.min(min, hi));
      if (isFinite(max)) hi = Math.min(hi, Math.max(max, lo));
      return lo + ((hi - lo) * (rank - acc)) / c;
    }
    acc += c;
  }
  return isFinite(max) ? max : bounds[bounds.length - 1];
}

function num(v) {
  if (v === undefined || v === null) return NaN;
  return typeof v === 'number' ? v : Number(v);
}

/** Explicit bounds and counts of an exponential histogram point (positive buckets, zero, negative). */
function expBuckets(dp) {
  const base = Math.pow(2, Math.pow(2, -(dp.scale || 0)));
  const bounds = [];
  const counts = [];
  const neg = dp.negative || {};
  const negCounts = (neg.bucketCounts || []).map(num);
  for (let i = negCounts.length - 1; i >= 0; i--) {
    counts.push(negCounts[i]);
    bounds.push(-Math.pow(base, (neg.offset || 0) + i));
  }
  counts.push(num(dp.zeroCount) || 0);
  bounds.push(0);
  const pos = dp.positive || {};
  const posCounts = (pos.bucketCounts || []).map(num);
  for (let i = 0; i < posCounts.length; i++) {
    counts.push(posCounts[i]);
    bounds.push(Math.pow(base, (pos.offset || 0) + i + 1));
  }
  bounds.pop(); // n counts have n-1 bounds between them
  return { bounds, counts };
}

function collectSeries(body, name) {
  const byKey = new Map();
  for (const rm of body.resourceMetrics || []) {
    const service = attr((rm.resource || {}).attributes, 'service.name') || '(unknown service)';
    for (const sm of rm.scopeMetrics || []) {
      for (const m of sm.metrics || []) {
        if (m.name !== name) continue;
        const kind = m.sum ? 'sum' : m.gauge ? 'gauge' : m.histogram ? 'histogram' : m.exponentialHistogram ? 'exponential_histogram' : m.summary ? 'summary' : '';
        const data = m.sum || m.gauge || m.histogram || m.exponentialHistogram || m.summary;
        if (!data) continue;
        const cumulative = data.aggregationTemporality === 2 || data.aggregationTemporality === 'AGGREGATION_TEMPORALITY_CUMULATIVE';
        for (const dp of data.dataPoints || []) {
          const attrs = attrsObj(dp.attributes);
          const key = service + '\u0000' + JSON.stringify(Object.entries(attrs).sort());
          let s = byKey.get(key);
          if (!s) byKey.set(key, (s = { service, attrs, kind, cumulative, monotonic: !!data.isMonotonic, points: [] }));
          s.points.push({ t: nsToUs(dp.timeUnixNano), dp });
        }
      }
    }
  }
  const out = [];
  for (const s of byKey.values()) {
    s.points.sort((a, b) => a.t - b.t);
    s.lines = seriesLines(s);
    out.push(s);
  }
  out.sort((a, b) => (a.service + JSON.stringify(a.attrs) < b.service + JSON.stringify(b.attrs) ? -1 : 1));
  return out;
}

/** Lines to draw: [{label, points: [[t, v]]}]. */
function seriesLines(s) {
  if (s.kind === 'sum' || s.kind === 'gauge') {
    return [{ label: 'value', points: s.points.map(({ t, dp }) => [t, dp.asDouble !== undefined ? num(dp.asDouble) : num(dp.asInt)]).filter(([, v]) => isFinite(v)) }];
  }
  if (s.kind === 'summary') {
    const qs = new Map();
    for (const { t, dp } of s.points) {
      for (const qv of dp.quantileValues || []) {
        const label = `p${+(100 * (qv.quantile || 0)).toFixed(2)}`;
        if (!qs.has(label)) qs.set(label, []);
        qs.get(label).push([t, num(qv.value)]);
      }
    }
    return [...qs].map(([label, points]) => ({ label, points }));
  }
  // Histograms: the distribution of each interval (a cumulative point minus the one before it,
  // unless the series restarted), then its percentiles.
  const lines = [
    { label: 'p50', q: 0.5, points: [] },
    { label: 'p95', q: 0.95, points: [] },
    { label: 'p99', q: 0.99, points: [] },
  ];
  let prev = null;
  for (const { t, dp } of s.points) {
    const { bounds, counts } = s.kind === 'histogram' ? { bounds: (dp.explicitBounds || []).map(num), counts: (dp.bucketCounts || []).map(num) } : expBuckets(dp);
    let use = counts;
    if (s.cumulative && prev && prev.counts.length === counts.length && prev.bounds.join() === bounds.join()) {
      const d = counts.map((c, i) => c - prev.counts[i]);
      if (d.every((x) => x >= 0) && d.some((x) => x > 0)) use = d;
    }
    prev = { bounds, counts };
    const min = use === counts ? num(dp.min) : NaN;
    const max = use === counts ? num(dp.max) : NaN;
    for (const l of lines) {
      const v = histogramQuantile(l.q, bounds, use, min, max);
      if (isFinite(v)) l.points.push([t, v]);
    }
  }
  return lines;
}

// ---- SVG chart ----

const W = 720;
const H = 220;
const PAD = { l: 64, r: 16, t: 12, b: 28 };
const LINE_COLORS = ['var(--line-1)', 'var(--line-2)', 'var(--line-3)', 'var(--line-4)', 'var(--line-5)'];

function niceTicks(lo, hi, n = 4) {
  if (lo === hi) {
    const d = Math.abs(lo) || 1;
    lo -= d / 2;
    hi += d / 2;
  }
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((k) => k >= raw) || raw;
  const start = Math.floor(lo / step) * step;
  const ticks = [];
  for (let v = start; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  if (ticks[ticks.length - 1] < hi) ticks.push(+(start + ticks.length * step).toPrecision(12));
  return ticks;
}

function fmtNum(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 1 || a === 0) return String(+v.toFixed(2));
  return String(+v.toPrecision(3));
}

function svg(tag, attrs, ...children) {
  return h('svg:' + tag, attrs, ...children);
}

function chartCard(s, unit) {
  const attrsText = Object.entries(s.attrs)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  const all = s.lines.flatMap((l) => l.points);
  const title = h(
    'h3',
    {},
    h('span', { class: 'svc-dot', style: `background:${serviceColor(s.service)}` }),
    h('span', { class: 'svc' }, s.service),
    attrsText ? h('span', { class: 'series-attrs' }, ` · ${attrsText}`) : h('span', { class: 'series-attrs muted' }, ' · no attributes'),
  );
  if (!all.length) return h('figure', { class: 'chart-card' }, title, h('p', { class: 'muted' }, 'no drawable points'));
  let t0 = Math.min(...all.map((p) => p[0]));
  let t1 = Math.max(...all.map((p) => p[0]));
  if (t0 === t1) {
    t0 -= 30e6;
    t1 += 30e6;
  }
  const vs = all.map((p) => p[1]);
  const yt = niceTicks(Math.min(0, ...vs), Math.max(...vs));
  const y0 = yt[0];
  const y1 = yt[yt.length - 1];
  const X = (t) => PAD.l + ((W - PAD.l - PAD.r) * (t - t0)) / (t1 - t0);
  const Y = (v) => H - PAD.b - ((H - PAD.t - PAD.b) * (v - y0)) / (y1 - y0 || 1);
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `${s.service} ${attrsText}` });
  for (const v of yt) {
    g.append(svg('line', { x1: PAD.l, x2: W - PAD.r, y1: Y(v), y2: Y(v), class: 'grid' }));
    g.append(svg('text', { x: PAD.l - 6, y: Y(v) + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtNum(v)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    g.append(svg('text', { x: X(t), y: H - 8, class: 'axis-label', 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' }, t1 - t0 < 10e6 ? fmtTime(t, false) : fmtTime(t, false).slice(0, 8)));
  }
  const legend = h('ul', { class: 'legend' });
  s.lines.forEach((l, i) => {
    if (!l.points.length) return;
    const color = LINE_COLORS[i % LINE_COLORS.length];
    const d = l.points.map(([t, v], j) => `${j ? 'L' : 'M'}${X(t).toFixed(1)} ${Y(v).toFixed(1)}`).join(' ');
    g.append(svg('path', { d, class: 'series', stroke: color, fill: 'none', 'data-points': l.points.length }));
    if (l.points.length <= 120) {
      for (const [t, v] of l.points) {
        g.append(svg('circle', { cx: X(t).toFixed(1), cy: Y(v).toFixed(1), r: 3, fill: color }, svg('title', {}, `${l.label} ${fmtNum(v)}${unit ? ' ' + unit : ''} at ${fmtTime(t)}`)));
      }
    }
    const last = l.points[l.points.length - 1][1];
    legend.append(h('li', { style: `--line:${color}` }, h('span', { class: 'swatch' }), `${l.label} `, h('strong', {}, fmtNum(last)), unit ? ` ${unit}` : '', ` (${l.points.length} point${l.points.length === 1 ? '' : 's'})`));
  });
  return h('figure', { class: 'chart-card' }, title, g, h('figcaption', {}, legend, s.kind === 'sum' && s.cumulative ? h('small', { class: 'muted' }, 'cumulative sum') : null));
}
