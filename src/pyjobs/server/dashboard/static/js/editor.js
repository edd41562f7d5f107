// A small code editor: a real <textarea> (so typing, selection, undo, screen readers and
// forms all work as usual) with its text made transparent over a highlighted <pre> copy.

import { h } from './dom.js';
import { highlightInto } from './highlight.js';

const INDENT = '    ';

/**
 * Turn `textarea` into a highlighted editor in place. Tab indents; Esc then Tab leaves the
 * editor (the keyboard must never be trapped); Enter keeps the line's indentation.
 */
export function createEditor(textarea, language = 'python') {
  const code = h('code');
  const mirror = h('pre', { class: 'editor-mirror', 'aria-hidden': 'true' }, code);
  const wrapper = h('div', { class: 'editor' });
  textarea.replaceWith(wrapper);
  wrapper.append(mirror, textarea);
  textarea.classList.add('editor-input');
  textarea.setAttribute('wrap', 'off');
  textarea.spellcheck = false;
  for (const name of ['autocapitalize', 'autocomplete', 'autocorrect']) {
    textarea.setAttribute(name, 'off');
  }

  let frame = 0;
  const render = () => {
    frame = 0;
    // A trailing newline needs a character after it, or the mirror is one line short.
    highlightInto(code, `${textarea.value}\n`, language);
    syncScroll();
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(render);
  };
  const syncScroll = () => {
    mirror.scrollTop = textarea.scrollTop;
    mirror.scrollLeft = textarea.scrollLeft;
  };

  let escaped = false;
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      escaped = true;
      return;
    }
    const leaving = escaped;
    escaped = false;
    if (event.key === 'Tab' && !leaving && !event.shiftKey && !event.ctrlKey && !event.altKey) {
      event.preventDefault();
      insert(textarea, INDENT);
    } else if (event.key === 'Enter' && !event.shiftKey && !event.ctrlKey && !event.metaKey) {
      const before = textarea.value.slice(0, textarea.selectionStart);
      const line = before.slice(before.lastIndexOf('\n') + 1);
      let indent = line.match(/^[ \t]*/)[0];
      if (/:\s*$/.test(line)) indent += INDENT;
      event.preventDefault();
      insert(textarea, `\n${indent}`);
    }
  });
  textarea.addEventListener('input', schedule);
  textarea.addEventListener('scroll', syncScroll);
  render();

  return {
    get value() {
      return textarea.value;
    },
    set value(text) {
      textarea.value = text;
      render();
    },
  };
}

function insert(textarea, text) {
  // execCommand keeps the browser's undo history; setRangeText is the fallback without it.
  if (!document.execCommand || !document.execCommand('insertText', false, text)) {
    textarea.setRangeText(text, textarea.selectionStart, textarea.selectionEnd, 'end');
    textarea.dispatchEvent(new Event('input'));
  }
}
