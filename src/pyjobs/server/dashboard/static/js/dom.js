// DOM building without HTML strings: every piece of text becomes a Text node, so nothing the
// server or a user sends can turn into markup.

/**
 * Create an element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child, …).
 * Keys starting with "on" add listeners; `false`/`null` attributes are left out.
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      element.className = value;
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  element.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

/** A glyph that decorates a label: hidden from screen readers, which say the label. */
export function icon(glyph) {
  return h('span', { class: 'icon', 'aria-hidden': 'true' }, glyph);
}

/** A table cell labelled for the narrow layout, where each row becomes a card. */
export function cell(label, ...content) {
  return h('td', { 'data-label': label }, h('div', { class: 'cell' }, ...content));
}

/** Replace an element's content with text (a single Text node). */
export function setText(element, text) {
  element.textContent = text;
}

/** A status badge: colour for the eye, the word itself for everyone. */
export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, status);
}

/** "3 s ago", "5 min ago", … for a timestamp, with the full time in a <time> element. */
export function timeAgo(iso) {
  const date = parseTime(iso);
  if (!date) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: date.toISOString(), title: date.toLocaleString() }, relative(date));
}

/** A Date from the API's ISO timestamps (UTC even when the offset is missing). */
export function parseTime(iso) {
  if (!iso) return null;
  const hasZone = /(?:Z|[+-]\d\d:?\d\d)$/.test(iso);
  const date = new Date(hasZone ? iso : `${iso}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

function relative(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return date.toLocaleDateString();
}

/** Seconds as "0.42 s" / "1 min 3 s", or an em dash when unknown. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** A notice box; errors are alerts so screen readers say them at once. */
export function notice(message, kind = 'info') {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
}

/**
 * Show `message` as the error in `container` (empty: clear it). The same error again leaves
 * the DOM alone, so a failing poll does not make screen readers repeat the alert.
 */
export function showProblem(container, message = '') {
  if (container.textContent === message) return;
  container.replaceChildren(...(message ? [notice(message, 'error')] : []));
}

/** Move focus to a view's heading after navigation, so keyboard and reader users follow. */
export function focusHeading(root) {
  const heading = root.querySelector('h1');
  if (!heading) return;
  heading.setAttribute('tabindex', '-1');
  heading.focus({ preventScroll: true });
}
