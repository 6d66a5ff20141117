// /search: the trace search form, the trace list and the live mode.

import {
  api,
  h,
  fmtDuration,
  fmtTime,
  fmtAgo,
  serviceColor,
  parseTags,
  formatTags,
  LOOKBACKS,
  lookbackStart,
  SPAN_KINDS,
  notice,
  select,
  field,
} from './util.js';

const LIVE_MS = 2000;

export async function renderSearch(ctx) {
  const { main, url, signal } = ctx;
  const p = url.searchParams;
  const q = {
    service: p.get('service') || '',
    operation: p.get('operation') || '',
    kind: p.get('kind') || '',
    tags: p.get('tags') || '',
    minDuration: p.get('minDuration') || '',
    maxDuration: p.get('maxDuration') || '',
    lookback: p.get('lookback') || '1h',
    // A fixed window in µs since the epoch (as the APIs take it); overrides the lookback.
    start: p.get('start') || '',
    end: p.get('end') || '',
    limit: p.get('limit') || '20',
    live: p.get('live') === '1',
  };
  // `tags` in the URL is the API's JSON object; the form shows key=value pairs.
  let tagsText = q.tags;
  try {
    if (q.tags.trim().startsWith('{')) tagsText = formatTags(JSON.parse(q.tags));
  } catch {
    // shown as typed; the search reports the error
  }

  const { body: svc } = await api('/api/v1/services', {}, signal);
  const services = svc.services || [];

  const serviceSel = select('service', [['', services.length ? 'all services' : 'no services yet'], ...services.map((s) => [s, s])], q.service);
  const opSel = select('operation', [['', 'all operations']], q.operation);
  const kindSel = select('kind', [['', 'any kind'], ...SPAN_KINDS.slice(1).map((k) => [k, k])], q.kind);
  const tagsIn = h('input', { name: 'tags', id: 'f-tags', value: tagsText, placeholder: 'http.route=/x error=true', spellcheck: 'false' });
  const minIn = h('input', { name: 'minDuration', id: 'f-minDuration', value: q.minDuration, placeholder: 'e.g. 1.5ms', size: 8 });
  const maxIn = h('input', { name: 'maxDuration', id: 'f-maxDuration', value: q.maxDuration, placeholder: 'e.g. 2s', size: 8 });
  const custom = Boolean(q.start || q.end);
  const lookbacks = LOOKBACKS.map(([v, l]) => [v, `last ${l}`.replace('last all time', 'all time')]);
  if (custom) {
    const from = q.start ? fmtTime(Number(q.start)) : 'the beginning';
    let to = q.end ? fmtTime(Number(q.end)) : 'now';
    // The date once when both ends fall on the same day, so the form stays on one line.
    if (from.slice(0, 11) === to.slice(0, 11)) to = to.slice(11);
    lookbacks.unshift(['custom', `${from} – ${to}`]);
  } else {
    lookbacks.push(['custom', 'custom range…']);
  }
  const lookSel = select('lookback', lookbacks, custom ? 'custom' : q.lookback);
  // The custom window's date pickers (local time, to the millisecond), shown for "custom".
  const picker = (name, us) =>
    h('input', { type: 'datetime-local', step: '0.001', name, id: `f-${name}`, value: us ? toLocalInput(Number(us)) : '' });
  const startIn = picker('start', q.start);
  const endIn = picker('end', q.end);
  const startField = field('From', startIn);
  const endField = field('To', endIn);
  const showPickers = () => {
    startField.hidden = endField.hidden = lookSel.value !== 'custom';
  };
  lookSel.addEventListener('change', showPickers);
  showPickers();
  const limitIn = h('input', { name: 'limit', id: 'f-limit', type: 'number', min: 1, max: 1000, value: q.limit, size: 5 });
  const liveBox = h('input', { type: 'checkbox', name: 'live', id: 'f-live', checked: q.live });

  async function loadOperations() {
    const keep = opSel.value || q.operation;
    opSel.replaceChildren(h('option', { value: '' }, 'all operations'));
    if (!serviceSel.value) return;
    try {
      const { body } = await api('/api/v1/operations', { service: serviceSel.value }, signal);
      const names = [...new Set((body.operations || []).map((o) => o.name))].sort();
      for (const n of names) opSel.append(h('option', { value: n }, n));
      if (keep && !names.includes(keep)) opSel.append(h('option', { value: keep }, keep));
      opSel.value = keep;
    } catch (e) {
      if (e.name !== 'AbortError') opSel.append(h('option', { value: '', disabled: true }, `(${e.message})`));
    }
  }
  serviceSel.addEventListener('change', () => {
    opSel.value = '';
    loadOperations();
  });
  await loadOperations();

  const form = h(
    'form',
    { class: 'query', role: 'search', 'aria-label': 'Find traces' },
    field('Service', serviceSel),
    field('Operation', opSel),
    field('Span kind', kindSel),
    field('Tags', tagsIn),
    field('Min duration', minIn),
    field('Max duration', maxIn),
    field('Time range', lookSel),
    startField,
    endField,
    field('Limit', limitIn),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Find traces'), h('label', { class: 'check' }, liveBox, ' Live')),
  );
  const status = h('div', { class: 'result-status', role: 'status' });
  const list = h('ol', { class: 'trace-list', 'aria-label': 'Traces' });
  main.append(h('h1', { class: 'visually-hidden' }, 'Search traces'), form, status, list);

  function formParams() {
    const out = new URLSearchParams();
    const set = (k, v) => v && out.set(k, v);
    set('service', serviceSel.value);
    set('operation', opSel.value);
    set('kind', kindSel.value);
    if (tagsIn.value.trim()) {
      out.set('tags', JSON.stringify(parseTags(tagsIn.value)));
    }
    set('minDuration', minIn.value.trim());
    set('maxDuration', maxIn.value.trim());
    if (lookSel.value === 'custom') {
      const start = fromLocalInput(startIn, 'From');
      const end = fromLocalInput(endIn, 'To');
      if (start && end && start > end) throw new Error('Time range: "From" is after "To"');
      set('start', start && String(start));
      set('end', end && String(end));
      if (!start && !end) out.set('lookback', 'all');
    } else if (lookSel.value !== '1h') set('lookback', lookSel.value);
    if (limitIn.value && limitIn.value !== '20') set('limit', limitIn.value);
    if (liveBox.checked) out.set('live', '1');
    return out;
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    let params;
    try {
      params = formParams();
    } catch (e) {
      status.replaceChildren(notice(e.message, 'error'));
      return;
    }
    ctx.navigate('/search?' + params.toString());
  });
  liveBox.addEventListener('change', () => form.requestSubmit());

  // The API query for this URL.
  const apiParams = {
    service: q.service,
    operation: q.operation,
    kind: q.kind,
    tags: q.tags && !q.tags.trim().startsWith('{') ? safeTags(q.tags) : q.tags,
    minDuration: q.minDuration,
    maxDuration: q.maxDuration,
    start: custom ? q.start : lookbackStart(q.lookback),
    end: q.end,
    limit: q.limit,
  };

  const shown = new Map(); // traceId → <li>
  let maxDur = 1;
  let newest = 0;

  function addTraces(traces, prepend) {
    for (const t of traces) maxDur = Math.max(maxDur, t.duration || 0);
    const fresh = [];
    for (const t of traces) {
      newest = Math.max(newest, t.start || 0);
      const li = traceItem(t);
      const old = shown.get(t.traceId);
      if (old) old.replaceWith(li);
      else fresh.push(li);
      shown.set(t.traceId, li);
    }
    if (prepend) list.prepend(...fresh);
    else list.append(...fresh);
    // bars are relative to the longest trace listed
    for (const li of list.children) {
      const bar = li.querySelector('.dur-bar > span');
      if (bar) bar.style.width = `${Math.max(1, (100 * Number(li.dataset.duration)) / maxDur)}%`;
    }
  }

  function traceItem(t) {
    const services = t.services || [];
    return h(
      'li',
      { class: 'trace-item' + (t.errorCount ? ' error' : ''), dataset: { traceId: t.traceId, duration: t.duration || 0 } },
      h(
        'a',
        { href: `/trace/${t.traceId}`, class: 'trace-link' },
        h(
          'div',
          { class: 'trace-head' },
          h('span', { class: 'svc-dot', style: `background:${serviceColor(t.rootService || '')}` }),
          h('span', { class: 'root-service' }, t.rootService || '(unknown service)'),
          ': ',
          h('span', { class: 'root-name' }, t.rootName || '(missing root span)'),
          h('span', { class: 'trace-id' }, t.traceId.slice(0, 7)),
          t.errorCount ? h('span', { class: 'badge error', title: 'spans with status error' }, `⚠ ${t.errorCount} error${t.errorCount > 1 ? 's' : ''}`) : null,
        ),
        h(
          'div',
          { class: 'trace-meta' },
          h('span', { class: 'dur' }, fmtDuration(t.duration)),
          h('span', { class: 'dur-bar', 'aria-hidden': 'true' }, h('span')),
          h('span', { class: 'spans' }, `${t.spanCount} span${t.spanCount === 1 ? '' : 's'}`),
          h('time', { datetime: new Date(t.start / 1000).toISOString(), title: fmtTime(t.start) }, `${fmtTime(t.start)} · ${fmtAgo(t.start)}`),
        ),
        h(
          'ul',
          { class: 'svc-chips', 'aria-label': 'Services' },
          services.map((s) =>
            h('li', { class: 'chip', style: `--svc:${serviceColor(s.name)}` }, h('span', { class: 'chip-name' }, s.name), ' ', h('span', { class: 'chip-n' }, String(s.spans))),
          ),
        ),
      ),
    );
  }

  status.replaceChildren(h('span', {}, 'Searching…'));
  try {
    const { body } = await api('/api/v1/traces', apiParams, signal);
    const traces = body.traces || [];
    addTraces(traces, false);
    status.replaceChildren(
      traces.length
        ? h('span', {}, `${traces.length} trace${traces.length === 1 ? '' : 's'}${q.live ? ' · live: new traces appear at the top' : ''}`)
        : h('span', {}, services.length ? 'No traces match.' : 'No traces yet: send OTLP to this ferrotel (gRPC :4317, HTTP :4318).'),
    );
  } catch (e) {
    if (e.name === 'AbortError') return;
    status.replaceChildren(notice(e.message, 'error'));
    return;
  }

  if (q.live) {
    let busy = false;
    const timer = setInterval(async () => {
      if (busy || signal.aborted) return;
      busy = true;
      try {
        const { body } = await api('/api/v1/traces', { ...apiParams, start: newest ? Math.floor(newest) : apiParams.start }, signal);
        const traces = (body.traces || []).slice().reverse(); // oldest first, so the newest ends on top
        const before = shown.size;
        for (const t of traces) addTraces([t], true);
        if (shown.size > before) {
          status.replaceChildren(h('span', {}, `${shown.size} traces · live: ${shown.size - before} new at ${fmtTime(Date.now() * 1000, false)}`));
        }
      } catch (e) {
        if (e.name !== 'AbortError') status.replaceChildren(notice(`live: ${e.message}`, 'error'));
      } finally {
        busy = false;
      }
    }, LIVE_MS);
    ctx.onCleanup(() => clearInterval(timer));
  }
}

function safeTags(s) {
  try {
    return JSON.stringify(parseTags(s));
  } catch {
    return s;
  }
}

/** A time in µs as a `datetime-local` value: local time, to the millisecond. */
function toLocalInput(us) {
  const d = new Date(us / 1000);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** A `datetime-local` input's value in µs since the epoch; 0 when empty. */
function fromLocalInput(input, label) {
  if (!input.value) return 0;
  // Without an offset, the date-time form is local time.
  const ms = new Date(input.value).getTime();
  if (Number.isNaN(ms)) throw new Error(`${label}: not a date and time: ${input.value}`);
  return ms * 1000;
}
