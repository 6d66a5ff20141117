// Shared helpers of ferrotel's local UI: the JSON API, DOM building, formatting, OTLP/JSON values.

/** Calls ferrotel's JSON API; throws an Error carrying the server's `{"error": ...}` message. */
export async function api(path, params = {}, signal) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const qs = q.toString();
  const res = await fetch(path + (qs ? '?' + qs : ''), { signal, headers: { Accept: 'application/json' } });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const msg = body && body.error ? body.error : text || res.statusText;
    const err = new Error(`${res.status}: ${msg}`);
    err.status = res.status;
    throw err;
  }
  if (body === null) throw new Error(`${path}: the answer is not JSON`);
  return { body, text };
}

/** Builds an element: h('a', {href: '/x', class: 'y', onclick: f}, 'text', child, ...). */
export function h(tag, attrs, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Escapes text for HTML built as a string (the waterfall builds its rows that way, once). */
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]);
}

/** A duration in µs, readable: 850µs, 12.3ms, 4.56s, 2m 3s. */
export function fmtDuration(us) {
  if (!isFinite(us)) return '';
  if (us < 1) return `${Math.round(us * 1000)}ns`;
  if (us < 1000) return `${+us.toFixed(us < 10 ? 2 : 0)}µs`;
  const ms = us / 1000;
  if (ms < 1000) return `${+ms.toFixed(ms < 10 ? 2 : ms < 100 ? 1 : 0)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${+s.toFixed(2)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s - m * 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** A time in µs since the epoch, in local time with milliseconds. */
export function fmtTime(us, withDate = true) {
  if (!us) return '';
  const d = new Date(us / 1000);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  const t = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  return withDate ? `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${t}` : t;
}

/** "3 min ago" for a time in µs. */
export function fmtAgo(us) {
  const s = (Date.now() - us / 1000) / 1000;
  if (s < 0) return 'in the future';
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** Nanoseconds since the epoch (OTLP/JSON: a decimal string or a number) → µs as a float. */
export function nsToUs(v) {
  if (v === undefined || v === null || v === '') return 0;
  const s = String(v);
  if (s.length <= 9) return Number(s) / 1000;
  return Number(s.slice(0, -3)) + Number(s.slice(-3)) / 1000;
}

/** A trace or span id from OTLP/JSON as lowercase hex (also accepts base64, as some encoders write). */
export function normId(id) {
  if (!id) return '';
  if (/^[0-9a-fA-F]+$/.test(id) && (id.length === 32 || id.length === 16)) return id.toLowerCase();
  try {
    const bin = atob(id);
    if (bin.length === 16 || bin.length === 8) {
      let out = '';
      for (let i = 0; i < bin.length; i++) out += bin.charCodeAt(i).toString(16).padStart(2, '0');
      return /^0+$/.test(out) ? '' : out;
    }
  } catch {
    // not base64 either: keep it as it came
  }
  return String(id).toLowerCase();
}

/** An OTLP AnyValue as a plain JS value. */
export function anyValue(v) {
  if (!v || typeof v !== 'object') return v ?? null;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return typeof v.intValue === 'string' ? v.intValue : String(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('bytesValue' in v) return v.bytesValue;
  if ('arrayValue' in v) return (v.arrayValue.values || []).map(anyValue);
  if ('kvlistValue' in v) return attrsObj(v.kvlistValue.values);
  return null;
}

/** An AnyValue as display text (strings as they are, the rest as JSON). */
export function valueText(v) {
  const x = anyValue(v);
  if (typeof x === 'string') return x;
  return JSON.stringify(x);
}

/** OTLP attributes (`[{key, value}]`) as an object. */
export function attrsObj(attrs) {
  const o = {};
  for (const a of attrs || []) o[a.key] = anyValue(a.value);
  return o;
}

/** The value of one attribute as text, or ''. */
export function attr(attrs, key) {
  for (const a of attrs || []) if (a.key === key) return valueText(a.value);
  return '';
}

/** A colour per service, stable across pages (a hash into a palette readable on both themes). */
const HUES = [210, 140, 30, 280, 175, 50, 250, 100, 320, 195, 75, 230];
export function serviceHue(name) {
  let x = 0;
  for (let i = 0; i < name.length; i++) x = (x * 31 + name.charCodeAt(i)) >>> 0;
  return HUES[x % HUES.length];
}
export function serviceColor(name) {
  return `hsl(${serviceHue(name)} 65% 52%)`;
}

/** `key=value key2="a b"` (Jaeger's tag syntax) → `{"key": "value", "key2": "a b"}`; throws on bad input. */
export function parseTags(s) {
  const out = {};
  const re = /\s*([^\s=]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))/y;
  let m;
  let pos = 0;
  s = s.trim();
  while (pos < s.length) {
    re.lastIndex = pos;
    m = re.exec(s);
    if (!m) throw new Error(`tags: expected key=value at “${s.slice(pos)}”`);
    out[m[1]] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
    pos = re.lastIndex;
    while (pos < s.length && /\s/.test(s[pos])) pos++;
  }
  return out;
}

/** The inverse of parseTags, for showing a `tags` JSON object in the form. */
export function formatTags(obj) {
  return Object.entries(obj)
    .map(([k, v]) => (/[\s"]/.test(v) || v === '' ? `${k}="${String(v).replace(/["\\]/g, '\\$&')}"` : `${k}=${v}`))
    .join(' ');
}

/** Lookback choices of the search forms (value → µs). */
export const LOOKBACKS = [
  ['5m', '5 minutes', 5 * 60e6],
  ['15m', '15 minutes', 15 * 60e6],
  ['1h', '1 hour', 3600e6],
  ['6h', '6 hours', 6 * 3600e6],
  ['24h', '24 hours', 24 * 3600e6],
  ['7d', '7 days', 7 * 86400e6],
  ['all', 'all time', 0],
];
export function lookbackStart(lookback) {
  const l = LOOKBACKS.find((x) => x[0] === lookback);
  if (!l || !l[2]) return undefined;
  return Math.floor(Date.now() * 1000 - l[2]);
}

export const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

/** Severity names for log forms (the lowest number of each range). */
export const SEVERITIES = [
  ['', 'any'],
  ['1', 'TRACE'],
  ['5', 'DEBUG'],
  ['9', 'INFO'],
  ['13', 'WARN'],
  ['17', 'ERROR'],
  ['21', 'FATAL'],
];
export function severityName(n) {
  if (!n) return '';
  const names = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  const i = Math.min(5, Math.floor((n - 1) / 4));
  const k = (n - 1) % 4;
  return names[i] + (k ? String(k + 1) : '');
}

/** Starts a download of `text` as a file. */
export function download(name, text, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A message box in the page. */
export function notice(text, kind = 'info') {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** A <select> with options [[value, label], ...]. */
export function select(name, options, value, attrs = {}) {
  const el = h('select', { name, id: `f-${name}`, ...attrs });
  for (const [v, label] of options) el.append(h('option', { value: v }, label));
  el.value = value ?? '';
  if (el.value !== (value ?? '') && value) {
    el.append(h('option', { value }, value));
    el.value = value;
  }
  return el;
}

/** A labelled form field. */
export function field(label, control, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control, hint ? h('small', {}, hint) : null);
}
