// Small building blocks shared by the screens: fields that show the API's typed errors next to
// the input they name, lists that page, empty states that say what to do next.
import { h } from '../vendor/preact.module.js';
import { useEffect, useRef, useState } from '../vendor/hooks.module.js';
import htm from '../vendor/htm.module.js';
import qrcode from '../vendor/qrcode.mjs';
import { gql } from './api.js';
import { t } from './i18n.js';

export const html = htm.bind(h);

let uid = 0;
export function useId(prefix) {
  const ref = useRef(null);
  if (ref.current === null) ref.current = `${prefix}-${++uid}`;
  return ref.current;
}

// Errors whose field is `name` (or starts with `name[` / `name.`), and the rest.
export function pick(errors, name) {
  return (errors || []).filter(
    (e) => e.field === name || (e.field && (e.field.startsWith(`${name}[`) || e.field.startsWith(`${name}.`))),
  );
}

export function unclaimed(errors, names) {
  return (errors || []).filter((e) => !names.some((n) => pick([e], n).length));
}

export function Field({ label, name, errors, children, hint }) {
  const id = useId(`f-${name}`);
  const mine = pick(errors, name);
  const input = children(id, mine.length ? `${id}-err` : hint ? `${id}-hint` : undefined, mine.length > 0);
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${input}
    ${hint && !mine.length ? html`<small id=${`${id}-hint`} class="hint">${hint}</small>` : null}
    ${mine.length
      ? html`<small id=${`${id}-err`} class="error" role="alert" data-code=${mine[0].code}>
          ${mine.map((e) => e.message).join(' ')}</small>`
      : null}
  </div>`;
}

export function TextField({ label, name, value, onInput, errors, type = 'text', hint, ...rest }) {
  return html`<${Field} label=${label} name=${name} errors=${errors} hint=${hint}>
    ${(id, describedBy, invalid) => html`<input id=${id} name=${name} type=${type} value=${value}
      aria-describedby=${describedBy} aria-invalid=${invalid ? 'true' : 'false'}
      onInput=${(e) => onInput(e.target.value)} ...${rest} />`}
  </${Field}>`;
}

export function FormErrors({ errors }) {
  if (!errors || !errors.length) return null;
  return html`<div class="form-errors" role="alert">
    ${errors.map((e) => html`<p data-code=${e.code}>${e.message}${e.field ? ` (${e.field})` : ''}</p>`)}
  </div>`;
}

export function Empty({ text, children }) {
  return html`<div class="empty"><p>${text}</p>${children}</div>`;
}

export function Loading() {
  return html`<p class="loading" aria-busy="true">${t('common.loading')}</p>`;
}

// A Relay connection, page by page ("load more"); `render` draws one node.
export function Paged({ document, variables, field, render, empty, pageSize = 20, reloadKey }) {
  const [items, setItems] = useState(null);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const load = async (after) => {
    const out = await gql(document, { ...variables, first: pageSize, after });
    if (out.errors) {
      setError(out.errors[0].message);
      return;
    }
    const conn = out.data[field];
    setItems((prev) => (after && prev ? [...prev, ...conn.nodes] : conn.nodes));
    setPage(conn.pageInfo);
  };
  useEffect(() => {
    setItems(null);
    load(null);
  }, [JSON.stringify(variables), reloadKey]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (items === null) return html`<${Loading} />`;
  if (!items.length) return empty;
  return html`<div>
    <ul class="cards">${items.map(render)}</ul>
    ${page && page.hasNextPage
      ? html`<button class="secondary" onClick=${() => load(page.endCursor)}>${t('common.more')}</button>`
      : null}
  </div>`;
}

export function QrCode({ text, label }) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const svg = qr.createSvgTag({ cellSize: 4, margin: 2, scalable: true });
  return html`<div class="qr" role="img" aria-label=${label} dangerouslySetInnerHTML=${{ __html: svg }} />`;
}

export function CopyButton({ text }) {
  const [done, setDone] = useState(false);
  return html`<button class="secondary" type="button" onClick=${async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      /* the text stays selectable on the page */
    }
    setDone(true);
  }}>${done ? t('common.copied') : t('common.copy')}</button>`;
}

// Horizontal bars: a chart that needs no canvas (rankings, demand per size and colour).
export function Bars({ rows, label }) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return html`<table class="bars" aria-label=${label}>
    <tbody>
      ${rows.map(
        (r) => html`<tr class=${r.highlight ? 'hl' : ''}>
          <th scope="row">${r.label}</th>
          <td><span class="bar" style=${`width:${(100 * r.value) / max}%`}></span></td>
          <td class="num" data-testid=${r.testid}>${r.value}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

// A line chart of a series sampled over time (uPlot, loaded as a global by index.html).
export function LineChart({ points, target, label }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    if (!box.current || !window.uPlot) return undefined;
    const width = Math.min(640, box.current.clientWidth || 320);
    const opts = {
      width,
      height: 180,
      scales: { x: { time: true } },
      series: [
        {},
        { label, stroke: '#c2410c', width: 2 },
        { label: 'MOQ', stroke: '#64748b', dash: [4, 4] },
      ],
      legend: { show: false },
    };
    plot.current = new window.uPlot(opts, [[], [], []], box.current);
    return () => plot.current && plot.current.destroy();
  }, []);
  useEffect(() => {
    if (plot.current) {
      plot.current.setData([points.map((p) => p[0]), points.map((p) => p[1]), points.map(() => target)]);
    }
  }, [points, target]);
  return html`<div ref=${box} class="chart" role="img" aria-label=${label}></div>`;
}
