// /trace/{traceId}: the waterfall, span details, errors, export.
// Rows are built once as one HTML string (fast for 10 000 spans), collapsed by toggling `hidden`,
// and laid out lazily by the browser (`content-visibility: auto`), so every span name stays text
// in the page (find-in-page, copy, screen readers) without the cost of drawing them all.

import {
  api,
  h,
  esc,
  fmtDuration,
  fmtTime,
  nsToUs,
  normId,
  valueText,
  attr,
  serviceColor,
  SPAN_KINDS,
  download,
  notice,
} from './util.js';

const STATUS = ['unset', 'ok', 'error'];

function kindOf(k) {
  if (typeof k === 'number') return k;
  const i = SPAN_KINDS.indexOf(String(k || '').replace(/^SPAN_KIND_/, '').toLowerCase());
  return i < 0 ? 0 : i;
}
function statusOf(st) {
  const c = st && st.code;
  if (typeof c === 'number') return c;
  const i = STATUS.indexOf(String(c || '').replace(/^STATUS_CODE_/, '').toLowerCase());
  return i < 0 ? 0 : i;
}

/** The spans of an OTLP/JSON traces request as a tree in display (depth-first) order. */
export function buildModel(doc) {
  const spans = [];
  for (const rs of doc.resourceSpans || []) {
    const resource = rs.resource || {};
    const service = attr(resource.attributes, 'service.name') || '(unknown service)';
    for (const ss of rs.scopeSpans || rs.instrumentationLibrarySpans || []) {
      const scope = ss.scope || ss.instrumentationLibrary || {};
      for (const s of ss.spans || []) {
        const start = nsToUs(s.startTimeUnixNano);
        const end = Math.max(start, nsToUs(s.endTimeUnixNano));
        const code = statusOf(s.status);
        spans.push({
          raw: s,
          id: normId(s.spanId),
          parent: normId(s.parentSpanId),
          name: s.name || '',
          kind: kindOf(s.kind),
          start,
          end,
          dur: end - start,
          code,
          error: code === 2,
          service,
          resource,
          scope,
          children: [],
          depth: 0,
          order: 0,
          last: 0,
          parentSpan: null,
        });
      }
    }
  }
  const byId = new Map();
  for (const s of spans) if (s.id && !byId.has(s.id)) byId.set(s.id, s);
  const roots = [];
  for (const s of spans) {
    const p = s.parent && s.parent !== s.id ? byId.get(s.parent) : undefined;
    if (p) {
      p.children.push(s);
      s.parentSpan = p;
    } else roots.push(s);
  }
  const byStart = (a, b) => a.start - b.start || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  roots.sort(byStart);
  for (const s of spans) if (s.children.length > 1) s.children.sort(byStart);
  // Depth-first order without recursion (a deep chain must not overflow the stack); a span
  // that is its own ancestor (bad input) is reached at most once.
  const order = [];
  const seen = new Set();
  const stack = [];
  for (let r = roots.length - 1; r >= 0; r--) stack.push([roots[r], 0]);
  // Spans in a parent cycle are never reached from a root: add them as roots at the end.
  const visit = () => {
    while (stack.length) {
      const [s, d] = stack.pop();
      if (seen.has(s)) continue;
      seen.add(s);
      s.depth = d;
      s.order = order.length;
      order.push(s);
      for (let c = s.children.length - 1; c >= 0; c--) stack.push([s.children[c], d + 1]);
    }
  };
  visit();
  for (const s of spans) {
    if (!seen.has(s)) {
      s.parentSpan = null;
      roots.push(s);
      stack.push([s, 0]);
      visit();
    }
  }
  // `last`: the order index of the last descendant (the subtree is order[s.order ..= s.last]).
  for (let i = order.length - 1; i >= 0; i--) {
    const s = order[i];
    s.last = s.children.length ? Math.max(i, ...s.children.filter((c) => c.order > i).map((c) => c.last)) : i;
  }
  let start = Infinity;
  let end = -Infinity;
  const services = new Map();
  for (const s of order) {
    start = Math.min(start, s.start);
    end = Math.max(end, s.end);
    services.set(s.service, (services.get(s.service) || 0) + 1);
  }
  const root = roots.find((r) => !r.parent) || roots[0];
  return { order, roots, root, byId, start, end, duration: Math.max(0, end - start), services, depth: Math.max(0, ...order.map((s) => s.depth)) + 1 };
}

/** Time a span spent not covered by its children. */
function selfTime(s) {
  const iv = s.children.map((c) => [Math.max(c.start, s.start), Math.min(c.end, s.end)]).filter(([a, b]) => b > a);
  iv.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let curA = -Infinity;
  let curB = -Infinity;
  for (const [a, b] of iv) {
    if (a > curB) {
      if (curB > curA) covered += curB - curA;
      curA = a;
      curB = b;
    } else curB = Math.max(curB, b);
  }
  if (curB > curA) covered += curB - curA;
  return Math.max(0, s.dur - covered);
}

export async function renderTrace(ctx, rawId) {
  const { main, url, signal, loaded } = ctx;
  const traceId = normId(rawId);
  let doc;
  let text;
  const fromFile = loaded.has(traceId);
  if (fromFile) {
    doc = loaded.get(traceId);
    text = JSON.stringify(doc, null, 2);
  } else {
    try {
      ({ body: doc, text } = await api(`/api/v1/traces/${encodeURIComponent(traceId)}`, {}, signal));
    } catch (e) {
      if (e.status === 404) {
        main.append(h('h1', {}, 'Trace not found'), notice(`No trace ${traceId} in this ferrotel (it may have been pruned, or it was opened from a file and the page reloaded).`, 'error'), h('p', {}, h('a', { href: '/search' }, 'Search traces')));
        return;
      }
      throw e;
    }
  }
  const t0 = performance.now();
  const m = buildModel(doc);
  if (!m.order.length) {
    main.append(notice(`Trace ${traceId} has no spans.`, 'error'));
    return;
  }
  const { order } = m;
  const errors = order.filter((s) => s.error);
  const total = m.duration || 1;
  const pct = (us) => ((100 * (us - m.start)) / total).toFixed(3);

  // ---- header ----
  const root = m.root;
  const errStatus = h('span', { class: 'err-pos', 'aria-live': 'polite' });
  const prevBtn = h('button', { type: 'button', class: 'secondary prev-error', disabled: !errors.length, title: 'Previous error span (p)' }, '◀ Previous error');
  const nextBtn = h('button', { type: 'button', class: 'secondary next-error', disabled: !errors.length, title: 'Next error span (n)' }, 'Next error ▶');
  const expandBtn = h('button', { type: 'button', class: 'secondary expand-all' }, 'Expand all');
  const collapseBtn = h('button', { type: 'button', class: 'secondary collapse-all' }, 'Collapse all');
  const exportBtn = h('button', { type: 'button', class: 'secondary export-json', title: 'Download this trace as an OTLP/JSON traces request' }, 'Export OTLP/JSON');
  const findIn = h('input', { type: 'search', placeholder: 'Find spans (name, service, attribute)…', 'aria-label': 'Find spans', class: 'find' });
  const findStatus = h('span', { class: 'find-status', 'aria-live': 'polite' });

  main.append(
    h(
      'section',
      { class: 'trace-header' },
      fromFile ? notice('Opened from a file: shown here, not stored in ferrotel. Reloading the page loses it.') : null,
      h(
        'h1',
        {},
        h('span', { class: 'svc-dot', style: `background:${serviceColor(root.service)}` }),
        h('span', { class: 'root-service' }, root.service),
        ': ',
        h('span', { class: 'root-name' }, root.name),
      ),
      h(
        'dl',
        { class: 'trace-facts' },
        h('div', {}, h('dt', {}, 'Trace'), h('dd', {}, h('code', { class: 'trace-id' }, traceId))),
        h('div', {}, h('dt', {}, 'Start'), h('dd', {}, fmtTime(m.start))),
        h('div', {}, h('dt', {}, 'Duration'), h('dd', {}, fmtDuration(m.duration))),
        h('div', {}, h('dt', {}, 'Spans'), h('dd', { class: 'span-count' }, String(order.length))),
        h('div', {}, h('dt', {}, 'Depth'), h('dd', {}, String(m.depth))),
        h('div', {}, h('dt', {}, 'Errors'), h('dd', { class: errors.length ? 'err-text' : '' }, String(errors.length))),
      ),
      h(
        'ul',
        { class: 'svc-chips', 'aria-label': 'Services' },
        [...m.services].map(([name, n]) => h('li', { class: 'chip', style: `--svc:${serviceColor(name)}` }, h('span', { class: 'chip-name' }, name), ' ', h('span', { class: 'chip-n' }, String(n)))),
      ),
      h(
        'div',
        { class: 'toolbar', role: 'toolbar', 'aria-label': 'Trace actions' },
        prevBtn,
        nextBtn,
        errStatus,
        h('span', { class: 'sep' }),
        expandBtn,
        collapseBtn,
        exportBtn,
        fromFile ? null : h('a', { class: 'button secondary', href: `/logs?traceId=${traceId}` }, 'Logs of this trace'),
        h('span', { class: 'sep' }),
        findIn,
        findStatus,
      ),
    ),
  );

  // ---- waterfall ----
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<span class="tick" style="left:${f * 100}%">${esc(fmtDuration(f * m.duration))}</span>`).join('');
  const parts = [];
  for (const s of order) {
    const color = serviceColor(s.service);
    const left = pct(s.start);
    const width = Math.max(0.15, (100 * s.dur) / total).toFixed(3);
    const labelRight = Number(left) > 70;
    const inside = !labelRight && Number(left) + Number(width) > 88;
    const toggle = s.children.length
      ? `<button type="button" class="toggle" tabindex="-1" aria-label="Collapse" title="${s.children.length} child span${s.children.length > 1 ? 's' : ''}">▾</button>`
      : '<span class="toggle-space"></span>';
    parts.push(
      `<div class="span-row${s.error ? ' error' : ''}" role="treeitem" id="row-${s.order}" data-i="${s.order}" data-span-id="${s.id}" aria-level="${s.depth + 1}"${s.children.length ? ' aria-expanded="true"' : ''} aria-selected="false" style="--c:${color}">` +
        `<div class="span-label" style="--depth:${s.depth}">${toggle}<span class="svc-bar"></span>` +
        `<span class="svc">${esc(s.service)}</span> <span class="name">${esc(s.name)}</span>` +
        (s.error ? '<span class="err-mark" title="status: error">⚠ error</span>' : '') +
        `</div><div class="span-timeline"><span class="bar" style="left:${left}%;width:${width}%"></span>` +
        `<span class="bar-label${inside ? ' inside' : ''}" style="${labelRight ? `right:${(100 - Number(left)).toFixed(3)}%` : inside ? `left:${left}%` : `left:calc(${left}% + ${width}%)`}">${esc(fmtDuration(s.dur))}</span></div></div>`,
    );
  }
  const rows = h('div', { class: 'rows', role: 'tree', tabindex: '0', 'aria-label': 'Spans (arrow keys move, left/right collapse and expand)' });
  rows.innerHTML = parts.join('');
  const rowEls = rows.children;
  const waterfall = h(
    'div',
    { class: 'waterfall' },
    h('div', { class: 'wf-header', 'aria-hidden': 'true' }, h('div', { class: 'span-label' }, 'Service · operation'), h('div', { class: 'span-timeline axis' })),
    rows,
  );
  waterfall.querySelector('.axis').innerHTML = ticks;
  const details = h('aside', { class: 'span-details', 'aria-label': 'Span details', tabindex: '-1' }, h('p', { class: 'muted' }, 'Select a span to see its details.'));
  main.append(h('div', { class: 'trace-body' }, waterfall, details));

  // ---- collapsing ----
  const collapsed = new Set();
  function setCollapsed(s, c) {
    if (!s.children.length || collapsed.has(s.order) === c) return;
    if (c) collapsed.add(s.order);
    else collapsed.delete(s.order);
    const row = rowEls[s.order];
    row.setAttribute('aria-expanded', String(!c));
    const b = row.querySelector('.toggle');
    b.textContent = c ? '▸' : '▾';
    b.setAttribute('aria-label', c ? 'Expand' : 'Collapse');
    if (c) {
      for (let j = s.order + 1; j <= s.last; j++) rowEls[j].hidden = true;
    } else {
      for (let j = s.order + 1; j <= s.last; j++) {
        rowEls[j].hidden = false;
        if (collapsed.has(j)) j = order[j].last;
      }
    }
  }
  function setAll(c) {
    collapsed.clear();
    for (let j = 0; j < order.length; j++) {
      const s = order[j];
      const row = rowEls[j];
      row.hidden = c && s.depth > 0;
      if (s.children.length) {
        if (c) collapsed.add(j);
        row.setAttribute('aria-expanded', String(!c));
        const b = row.querySelector('.toggle');
        b.textContent = c ? '▸' : '▾';
        b.setAttribute('aria-label', c ? 'Expand' : 'Collapse');
      }
    }
  }
  function reveal(s) {
    for (let p = s.parentSpan; p; p = p.parentSpan) if (collapsed.has(p.order)) setCollapsed(p, false);
  }
  expandBtn.addEventListener('click', () => setAll(false));
  collapseBtn.addEventListener('click', () => {
    setAll(true);
    if (selected && rowEls[selected.order].hidden) select(selected.parentSpan ? rootOf(selected) : selected);
  });
  const rootOf = (s) => {
    while (s.parentSpan) s = s.parentSpan;
    return s;
  };

  // ---- selection and details ----
  let selected = null;
  function select(s, opts = {}) {
    if (selected) {
      rowEls[selected.order].classList.remove('selected');
      rowEls[selected.order].setAttribute('aria-selected', 'false');
    }
    selected = s;
    reveal(s);
    const row = rowEls[s.order];
    row.classList.add('selected');
    row.setAttribute('aria-selected', 'true');
    rows.setAttribute('aria-activedescendant', row.id);
    row.scrollIntoView({ block: opts.center ? 'center' : 'nearest' });
    showDetails(s);
    const ei = errors.indexOf(s);
    errStatus.textContent = errors.length ? (ei >= 0 ? `error ${ei + 1} of ${errors.length}` : `${errors.length} error span${errors.length > 1 ? 's' : ''}`) : 'no errors';
    const u = new URL(location.href);
    u.searchParams.set('span', s.id);
    history.replaceState(null, '', u.pathname + u.search);
  }

  function kvTable(attrs, cls) {
    if (!attrs || !attrs.length) return h('p', { class: 'muted' }, 'none');
    return h(
      'table',
      { class: `kv ${cls || ''}` },
      h('tbody', {}, attrs.map((a) => h('tr', {}, h('th', { scope: 'row' }, a.key), h('td', {}, valueText(a.value))))),
    );
  }
  function section(title, n, ...content) {
    return h('details', { open: true }, h('summary', {}, title, n !== undefined ? h('span', { class: 'count' }, ` (${n})`) : null), ...content);
  }

  function showDetails(s) {
    const raw = s.raw;
    const st = raw.status || {};
    const events = raw.events || [];
    const links = raw.links || [];
    const scope = s.scope || {};
    const logsHref = `/logs?traceId=${traceId}&spanId=${s.id}`;
    details.replaceChildren(
      h(
        'header',
        {},
        h('h2', {}, h('span', { class: 'svc-dot', style: `background:${serviceColor(s.service)}` }), h('span', { class: 'svc' }, s.service), ' ', h('span', { class: 'name' }, s.name)),
        s.error ? h('p', { class: 'err-text status-line' }, `⚠ Error${st.message ? ': ' + st.message : ''}`) : null,
      ),
      h(
        'table',
        { class: 'kv facts' },
        h(
          'tbody',
          {},
          [
            ['Span ID', h('code', {}, s.id)],
            ['Parent', s.parent ? (s.parentSpan ? h('a', { href: '#', class: 'goto', dataset: { i: s.parentSpan.order } }, s.parentSpan.name, ' ', h('code', {}, s.parent)) : h('code', {}, `${s.parent} (not in this trace)`)) : 'none (root)'],
            ['Kind', SPAN_KINDS[s.kind] || String(s.kind)],
            ['Start', `+${fmtDuration(s.start - m.start)} · ${fmtTime(s.start)}`],
            ['Duration', fmtDuration(s.dur)],
            ['Self time', fmtDuration(selfTime(s))],
            ['Status', h('span', { class: s.error ? 'err-text' : '' }, STATUS[s.code] || String(s.code), st.message ? ` · ${st.message}` : '')],
            ['Children', String(s.children.length)],
          ].map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v))),
        ),
      ),
      fromFile ? null : h('p', { class: 'links' }, h('a', { class: 'button secondary span-logs', href: logsHref }, 'Logs of this span'), ' ', h('a', { class: 'button secondary', href: `/logs?traceId=${traceId}` }, 'Logs of this trace')),
      section('Attributes', (raw.attributes || []).length, kvTable(raw.attributes, 'span-attributes')),
      section(
        'Events',
        events.length,
        events.length
          ? h(
              'ol',
              { class: 'events' },
              events.map((e) =>
                h('li', {}, h('div', {}, h('span', { class: 'offset' }, `+${fmtDuration(nsToUs(e.timeUnixNano) - m.start)}`), ' ', h('strong', { class: 'event-name' }, e.name || '(unnamed)')), (e.attributes || []).length ? kvTable(e.attributes) : null),
              ),
            )
          : h('p', { class: 'muted' }, 'none'),
      ),
      section(
        'Links',
        links.length,
        links.length
          ? h(
              'ul',
              { class: 'span-links' },
              links.map((l) => {
                const tid = normId(l.traceId);
                const sid = normId(l.spanId);
                return h('li', {}, h('a', { href: `/trace/${tid}?span=${sid}` }, h('code', {}, `${tid.slice(0, 12)}… / ${sid}`)), (l.attributes || []).length ? kvTable(l.attributes) : null);
              }),
            )
          : h('p', { class: 'muted' }, 'none'),
      ),
      section('Resource', (s.resource.attributes || []).length, kvTable(s.resource.attributes, 'resource-attributes')),
      section(
        'Scope',
        undefined,
        h('p', {}, h('code', {}, scope.name || '(unnamed scope)'), scope.version ? ` ${scope.version}` : ''),
        (scope.attributes || []).length ? kvTable(scope.attributes) : null,
      ),
    );
  }
  details.addEventListener('click', (ev) => {
    const a = ev.target.closest('a.goto');
    if (a) {
      ev.preventDefault();
      select(order[Number(a.dataset.i)], { center: true });
    }
  });

  rows.addEventListener('click', (ev) => {
    const row = ev.target.closest('.span-row');
    if (!row) return;
    const s = order[Number(row.dataset.i)];
    if (ev.target.closest('.toggle')) setCollapsed(s, !collapsed.has(s.order));
    else select(s);
  });

  // ---- keyboard ----
  const visible = (i) => !rowEls[i].hidden;
  function move(dir) {
    let i = selected ? selected.order : dir > 0 ? -1 : order.length;
    do i += dir;
    while (i >= 0 && i < order.length && !visible(i));
    if (i >= 0 && i < order.length) select(order[i]);
  }
  rows.addEventListener('keydown', (ev) => {
    const s = selected;
    switch (ev.key) {
      case 'ArrowDown':
        move(1);
        break;
      case 'ArrowUp':
        move(-1);
        break;
      case 'Home':
        select(order[0]);
        break;
      case 'End': {
        let i = order.length - 1;
        while (i > 0 && !visible(i)) i--;
        select(order[i]);
        break;
      }
      case 'ArrowRight':
        if (s && s.children.length) {
          if (collapsed.has(s.order)) setCollapsed(s, false);
          else select(s.children[0]);
        }
        break;
      case 'ArrowLeft':
        if (s && s.children.length && !collapsed.has(s.order)) setCollapsed(s, true);
        else if (s && s.parentSpan) select(s.parentSpan);
        break;
      case 'Enter':
      case ' ':
        if (s) setCollapsed(s, !collapsed.has(s.order));
        break;
      default:
        return;
    }
    ev.preventDefault();
  });

  // ---- errors ----
  function gotoError(dir) {
    if (!errors.length) return;
    const cur = selected ? selected.order : dir > 0 ? -1 : Infinity;
    let e = dir > 0 ? errors.find((x) => x.order > cur) : [...errors].reverse().find((x) => x.order < cur);
    if (!e) e = dir > 0 ? errors[0] : errors[errors.length - 1];
    select(e, { center: true });
  }
  nextBtn.addEventListener('click', () => gotoError(1));
  prevBtn.addEventListener('click', () => gotoError(-1));
  const onKey = (ev) => {
    if (ev.target.closest('input, textarea, select') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === 'n') gotoError(1);
    else if (ev.key === 'p') gotoError(-1);
    else return;
    ev.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  ctx.onCleanup(() => document.removeEventListener('keydown', onKey));
  errStatus.textContent = errors.length ? `${errors.length} error span${errors.length > 1 ? 's' : ''}` : 'no errors';

  // ---- export ----
  exportBtn.addEventListener('click', () => download(`trace-${traceId}.json`, text));

  // ---- find ----
  let matches = [];
  let matchPos = -1;
  findIn.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter') return;
    ev.preventDefault();
    if (!matches.length) return;
    matchPos = (matchPos + (ev.shiftKey ? matches.length - 1 : 1)) % matches.length;
    select(matches[matchPos], { center: true });
    findStatus.textContent = `${matchPos + 1} of ${matches.length}`;
  });
  findIn.addEventListener('input', () => {
    for (const s of matches) rowEls[s.order].classList.remove('match');
    const needle = findIn.value.trim().toLowerCase();
    matches = [];
    matchPos = -1;
    if (needle) {
      for (const s of order) {
        if (
          s.name.toLowerCase().includes(needle) ||
          s.service.toLowerCase().includes(needle) ||
          s.id === needle ||
          (s.raw.attributes || []).some((a) => `${a.key}=${valueText(a.value)}`.toLowerCase().includes(needle))
        )
          matches.push(s);
      }
      for (const s of matches) rowEls[s.order].classList.add('match');
    }
    findStatus.textContent = needle ? `${matches.length} match${matches.length === 1 ? '' : 'es'} (Enter: next)` : '';
  });

  // ---- initial selection (deep link ?span=) ----
  const want = normId(url.searchParams.get('span') || '');
  const target = want && m.byId.get(want);
  if (target) requestAnimationFrame(() => select(target, { center: true }));
  else if (want) main.prepend(notice(`Span ${want} is not in this trace.`, 'error'));
  main.dataset.renderMs = String(Math.round(performance.now() - t0));
}
