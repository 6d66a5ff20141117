// /logs: log records by service, severity, body text, attributes, trace and span.

import {
  api,
  h,
  fmtTime,
  nsToUs,
  normId,
  valueText,
  attr,
  serviceColor,
  parseTags,
  formatTags,
  LOOKBACKS,
  lookbackStart,
  SEVERITIES,
  severityName,
  notice,
  select,
  field,
} from './util.js';

/** `severity` in the URL: a number or a name (WARN, error, ...) → the lowest severity number. */
function severityNumber(s) {
  if (!s) return '';
  if (/^\d+$/.test(s)) return s;
  const hit = SEVERITIES.find(([, n]) => n.toLowerCase() === s.toLowerCase());
  return hit ? hit[0] : s;
}

export async function renderLogs(ctx) {
  const { main, url, signal } = ctx;
  const p = url.searchParams;
  const q = {
    service: p.get('service') || '',
    severity: severityNumber(p.get('severity') || ''),
    body: p.get('body') || '',
    traceId: p.get('traceId') || '',
    spanId: p.get('spanId') || '',
    attributes: p.get('attributes') || '',
    lookback: p.get('lookback') || (p.get('traceId') ? 'all' : '1h'),
    limit: p.get('limit') || '100',
  };
  let attrsText = q.attributes;
  try {
    if (q.attributes.trim().startsWith('{')) attrsText = formatTags(JSON.parse(q.attributes));
  } catch {
    // shown as typed
  }
  const { body: svc } = await api('/api/v1/services', {}, signal);
  const services = svc.services || [];

  const serviceSel = select('service', [['', 'all services'], ...services.map((s) => [s, s])], q.service);
  const sevSel = select('severity', SEVERITIES.map(([v, n]) => [v, v ? `${n} and above` : 'any severity']), q.severity);
  const bodyIn = h('input', { name: 'body', id: 'f-body', value: q.body, placeholder: 'text in the body', type: 'search' });
  const attrsIn = h('input', { name: 'attributes', id: 'f-attributes', value: attrsText, placeholder: 'key=value', spellcheck: 'false' });
  const traceIn = h('input', { name: 'traceId', id: 'f-traceId', value: q.traceId, placeholder: '32 hex digits', size: 34, spellcheck: 'false' });
  const spanIn = h('input', { name: 'spanId', id: 'f-spanId', value: q.spanId, placeholder: '16 hex digits', size: 18, spellcheck: 'false' });
  const lookSel = select('lookback', LOOKBACKS.map(([v, l]) => [v, `last ${l}`.replace('last all time', 'all time')]), q.lookback);
  const limitIn = h('input', { name: 'limit', id: 'f-limit', type: 'number', min: 1, max: 5000, value: q.limit, size: 5 });
  const form = h(
    'form',
    { class: 'query', role: 'search', 'aria-label': 'Find log records' },
    field('Service', serviceSel),
    field('Severity', sevSel),
    field('Body contains', bodyIn),
    field('Attributes', attrsIn),
    field('Trace ID', traceIn),
    field('Span ID', spanIn),
    field('Time range', lookSel),
    field('Limit', limitIn),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Find logs')),
  );
  const status = h('div', { class: 'result-status', role: 'status' });
  main.append(h('h1', { class: 'visually-hidden' }, 'Logs'), form, status);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const out = new URLSearchParams();
    const set = (k, v) => v && out.set(k, v.trim());
    set('service', serviceSel.value);
    set('severity', sevSel.value ? SEVERITIES.find(([v]) => v === sevSel.value)[1] : '');
    set('body', bodyIn.value);
    try {
      if (attrsIn.value.trim()) out.set('attributes', JSON.stringify(parseTags(attrsIn.value)));
    } catch (e) {
      status.replaceChildren(notice(e.message.replace(/^tags/, 'attributes'), 'error'));
      return;
    }
    set('traceId', traceIn.value);
    set('spanId', spanIn.value);
    if (lookSel.value !== (traceIn.value.trim() ? 'all' : '1h')) set('lookback', lookSel.value);
    if (limitIn.value !== '100') set('limit', limitIn.value);
    ctx.navigate('/logs?' + out.toString());
  });

  if (q.traceId) {
    status.append(
      h(
        'p',
        { class: 'context' },
        'Records of trace ',
        h('a', { href: `/trace/${q.traceId}${q.spanId ? `?span=${q.spanId}` : ''}` }, h('code', {}, q.traceId)),
        q.spanId ? [', span ', h('code', {}, q.spanId)] : null,
        '.',
      ),
    );
  }
  let attributes = q.attributes;
  if (attributes && !attributes.trim().startsWith('{')) {
    try {
      attributes = JSON.stringify(parseTags(attributes));
    } catch {
      // the server reports it
    }
  }
  const loading = h('p', {}, 'Searching…');
  status.append(loading);
  let body;
  try {
    ({ body } = await api(
      '/api/v1/logs',
      {
        service: q.service,
        minSeverity: q.severity,
        body: q.body,
        traceId: q.traceId,
        spanId: q.spanId,
        attributes,
        start: lookbackStart(q.lookback),
        limit: q.limit,
      },
      signal,
    ));
  } catch (e) {
    if (e.name === 'AbortError') return;
    loading.replaceWith(notice(e.message, 'error'));
    return;
  }
  const records = [];
  for (const rl of body.resourceLogs || []) {
    const resource = rl.resource || {};
    const service = attr(resource.attributes, 'service.name') || '(unknown service)';
    for (const sl of rl.scopeLogs || []) {
      for (const r of sl.logRecords || []) {
        records.push({ r, service, time: nsToUs(r.timeUnixNano) || nsToUs(r.observedTimeUnixNano), scope: sl.scope || {} });
      }
    }
  }
  records.sort((a, b) => b.time - a.time);
  loading.replaceWith(h('p', {}, records.length ? `${records.length} record${records.length === 1 ? '' : 's'}, most recent first` : 'No log records match.'));
  if (!records.length) return;

  const tbody = h('tbody');
  for (const { r, service, time } of records) {
    const sev = r.severityNumber || 0;
    const sevText = r.severityText || severityName(sev) || '—';
    const tid = normId(r.traceId);
    const sid = normId(r.spanId);
    const level = sev >= 17 ? 'error' : sev >= 13 ? 'warn' : sev >= 9 ? 'info' : sev ? 'debug' : 'none';
    tbody.append(
      h(
        'tr',
        { class: `log-row sev-${level}` },
        h('td', { class: 'time' }, h('time', { datetime: new Date(time / 1000).toISOString() }, fmtTime(time))),
        h('td', {}, h('span', { class: `sev sev-${level}`, title: sev ? `severity number ${sev}` : 'no severity' }, sevText)),
        h('td', { class: 'svc-cell' }, h('span', { class: 'svc-dot', style: `background:${serviceColor(service)}` }), h('span', { class: 'svc' }, service)),
        h(
          'td',
          { class: 'body-cell' },
          h('div', { class: 'log-body' }, r.body ? valueText(r.body) : ''),
          (r.attributes || []).length
            ? h(
                'ul',
                { class: 'attr-chips', 'aria-label': 'Attributes' },
                r.attributes.map((a) => h('li', {}, h('span', { class: 'k' }, a.key), '=', h('span', { class: 'v' }, valueText(a.value)))),
              )
            : null,
        ),
        h(
          'td',
          { class: 'trace-cell' },
          tid ? h('a', { class: 'log-span-link', href: `/trace/${tid}${sid ? `?span=${sid}` : ''}`, title: `trace ${tid}${sid ? `, span ${sid}` : ''}` }, sid ? 'span ' : 'trace ', h('code', {}, (sid || tid).slice(0, 8))) : '',
        ),
      ),
    );
  }
  main.append(
    h(
      'table',
      { class: 'logs' },
      h('thead', {}, h('tr', {}, ['Time', 'Severity', 'Service', 'Body · attributes', 'Trace'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody,
    ),
  );
}
