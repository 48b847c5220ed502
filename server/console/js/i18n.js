// Every user-facing string is in one catalogue per language (i18n/zh-CN.json, i18n/en.json);
// Simplified Chinese by default. Money is fen shown as ¥ with two decimals; times are shown in
// the viewer's own time zone.
let strings = {};
let lang = 'zh-CN';

export async function loadLanguage(wanted) {
  lang = wanted === 'en' ? 'en' : 'zh-CN';
  const res = await fetch(`./i18n/${lang}.json`);
  strings = await res.json();
  document.documentElement.lang = lang;
  window.localStorage.setItem('c2m.lang', lang);
  return lang;
}

export function savedLanguage() {
  return window.localStorage.getItem('c2m.lang') || 'zh-CN';
}

export function currentLanguage() {
  return lang;
}

export function t(key) {
  return strings[key] || key;
}

export function money(m) {
  if (!m) return '—';
  const fen = Number(m.amountFen);
  const sign = fen < 0 ? '-' : '';
  return `${sign}¥${(Math.abs(fen) / 100).toFixed(2)}`;
}

export function yuanToFen(text) {
  const value = String(text || '').trim();
  if (!/^\d+(\.\d{1,2})?$/.test(value)) return null;
  const [whole, part = ''] = value.split('.');
  return Number(whole) * 100 + Number((part + '00').slice(0, 2));
}

export function fenToYuan(fen) {
  return fen == null ? '' : (Number(fen) / 100).toFixed(2);
}

export function when(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' });
}

export function duration(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

// <input type="datetime-local"> works in the viewer's zone; the API takes UTC with a zone.
export function localInput(date) {
  const d = new Date(date);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : null;
}
