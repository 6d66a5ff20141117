// ferrotel's local UI: the router (History API) and the OTLP/JSON file loader.
// Pages: /search, /trace/{traceId}, /logs, /metrics. No build step: plain ES modules.

import { h, normId, attr, notice } from './util.js';
import { renderSearch } from './search.js';
import { renderTrace } from './trace.js';
import { renderLogs } from './logs.js';
import { renderMetrics } from './metrics.js';

const main = document.getElementById('app');

/** Traces loaded from a file or pasted: viewed, never stored (traceId → OTLP/JSON request). */
export const loaded = new Map();

let current = null; // { abort: AbortController, cleanup?: () => void }

/** Goes to a path inside the UI (pushState) and renders it. */
export function navigate(path, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

async function route() {
  if (current) {
    current.abort.abort();
    if (current.cleanup) current.cleanup();
  }
  const abort = new AbortController();
  current = { abort };
  const url = new URL(location.href);
  let path = url.pathname.replace(/\/+$/, '') || '/';
  if (path === '/') {
    history.replaceState(null, '', '/search' + url.search);
    path = '/search';
  }
  for (const a of document.querySelectorAll('nav.top a[data-page]')) {
    a.toggleAttribute('aria-current', path.startsWith('/' + a.dataset.page));
    if (a.hasAttribute('aria-current')) a.setAttribute('aria-current', 'page');
  }
  main.replaceChildren();
  main.setAttribute('aria-busy', 'true');
  const ctx = { main, url, signal: abort.signal, navigate, loaded, onCleanup: (f) => (current.cleanup = f) };
  try {
    if (path === '/search') {
      document.title = 'Search · ferrotel';
      await renderSearch(ctx);
    } else if (path.startsWith('/trace/')) {
      document.title = 'Trace · ferrotel';
      await renderTrace(ctx, decodeURIComponent(path.slice('/trace/'.length)));
    } else if (path === '/logs') {
      document.title = 'Logs · ferrotel';
      await renderLogs(ctx);
    } else if (path === '/metrics') {
      document.title = 'Metrics · ferrotel';
      await renderMetrics(ctx);
    } else {
      main.append(notice(`No page at ${path}.`, 'error'), h('p', {}, h('a', { href: '/search' }, 'Search traces')));
    }
  } catch (e) {
    if (e.name !== 'AbortError') {
      console.error(e);
      main.append(notice(String(e.message || e), 'error'));
    }
  } finally {
    if (!abort.signal.aborted) main.setAttribute('aria-busy', 'false');
  }
}

// Links inside the app navigate without reloading (a modified click still opens a new tab).
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[href]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  if (a.target || a.hasAttribute('download')) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin || u.pathname.startsWith('/api/') || u.pathname.startsWith('/static/')) return;
  ev.preventDefault();
  if (u.pathname + u.search !== location.pathname + location.search) navigate(u.pathname + u.search + u.hash);
});
window.addEventListener('popstate', route);

// ---- Open an OTLP/JSON file (or pasted text) and view its traces without storing them ----

/** Parses OTLP/JSON traces: one request, an array of them, or JSON lines (the file exporter's format). */
export function parseOtlpTraces(text) {
  text = text.trim();
  if (!text) throw new Error('nothing to read: paste OTLP/JSON or choose a file');
  let docs;
  try {
    const v = JSON.parse(text);
    docs = Array.isArray(v) ? v : [v];
  } catch (e) {
    const lines = text.split('\n').filter((l) => l.trim());
    if (lines.length < 2) throw new Error(`not JSON: ${e.message}`);
    docs = lines.map((l, i) => {
      try {
        return JSON.parse(l);
      } catch (e2) {
        throw new Error(`line ${i + 1} is not JSON: ${e2.message}`);
      }
    });
  }
  // Group the spans by trace id, keeping each span's resource and scope.
  const byTrace = new Map();
  let spans = 0;
  for (const d of docs) {
    if (!d || !Array.isArray(d.resourceSpans)) {
      throw new Error('not OTLP/JSON traces: expected an object with "resourceSpans"');
    }
    for (const rs of d.resourceSpans) {
      for (const ss of rs.scopeSpans || rs.instrumentationLibrarySpans || []) {
        for (const s of ss.spans || []) {
          const id = normId(s.traceId);
          if (!id) continue;
          spans++;
          let t = byTrace.get(id);
          if (!t) byTrace.set(id, (t = new Map()));
          const key = `${JSON.stringify(rs.resource || {})}\u0000${JSON.stringify(ss.scope || {})}`;
          let g = t.get(key);
          if (!g) t.set(key, (g = { resource: rs.resource || {}, scope: ss.scope || {}, spans: [] }));
          g.spans.push(s);
        }
      }
    }
  }
  if (!spans) throw new Error('no spans in this OTLP/JSON');
  const out = [];
  for (const [id, groups] of byTrace) {
    // resource → scopes, as OTLP nests them
    const byRes = new Map();
    for (const g of groups.values()) {
      const rk = JSON.stringify(g.resource);
      let r = byRes.get(rk);
      if (!r) byRes.set(rk, (r = { resource: g.resource, scopeSpans: [] }));
      r.scopeSpans.push({ scope: g.scope, spans: g.spans });
    }
    const doc = { resourceSpans: [...byRes.values()] };
    let root = null;
    let rootSvc = '';
    let n = 0;
    for (const r of doc.resourceSpans)
      for (const ss of r.scopeSpans)
        for (const s of ss.spans) {
          n++;
          if (!normId(s.parentSpanId) && !root) {
            root = s;
            rootSvc = attr(r.resource.attributes, 'service.name');
          }
        }
    out.push({ traceId: id, doc, spans: n, rootName: root ? root.name : '(no root span)', rootService: rootSvc });
  }
  return out;
}

function openDialog() {
  const dlg = document.getElementById('open-dialog');
  const ta = dlg.querySelector('textarea');
  const msg = dlg.querySelector('.dialog-msg');
  const list = dlg.querySelector('.dialog-list');
  msg.replaceChildren();
  list.replaceChildren();
  dlg.showModal();
  ta.focus();
}

function viewText(text) {
  const dlg = document.getElementById('open-dialog');
  const msg = dlg.querySelector('.dialog-msg');
  const list = dlg.querySelector('.dialog-list');
  msg.replaceChildren();
  list.replaceChildren();
  let traces;
  try {
    traces = parseOtlpTraces(text);
  } catch (e) {
    msg.append(notice(e.message, 'error'));
    return;
  }
  for (const t of traces) loaded.set(t.traceId, t.doc);
  if (traces.length === 1) {
    dlg.close();
    navigate(`/trace/${traces[0].traceId}`);
    return;
  }
  msg.append(notice(`${traces.length} traces in this file (shown from memory, not stored):`));
  for (const t of traces) {
    list.append(
      h(
        'li',
        {},
        h('a', { href: `/trace/${t.traceId}`, onclick: () => dlg.close() }, `${t.rootService}: ${t.rootName}`),
        ` · ${t.spans} spans · `,
        h('code', {}, t.traceId),
      ),
    );
  }
}

function setupDialog() {
  const dlg = document.getElementById('open-dialog');
  const ta = dlg.querySelector('textarea');
  const file = dlg.querySelector('input[type=file]');
  document.getElementById('open-json').addEventListener('click', openDialog);
  dlg.querySelector('form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    viewText(ta.value);
  });
  dlg.querySelector('.dialog-cancel').addEventListener('click', () => dlg.close());
  file.addEventListener('change', async () => {
    const f = file.files[0];
    if (f) {
      ta.value = await f.text();
      viewText(ta.value);
    }
  });
  // Dropping a file anywhere on the page opens it.
  document.addEventListener('dragover', (ev) => ev.preventDefault());
  document.addEventListener('drop', async (ev) => {
    const f = ev.dataTransfer && ev.dataTransfer.files[0];
    if (!f) return;
    ev.preventDefault();
    if (!dlg.open) openDialog();
    ta.value = await f.text();
    viewText(ta.value);
  });
}

setupDialog();
route();
