// Terminal output to DOM: SGR colour codes become CSS classes, every other escape sequence
// and control character is dropped, text goes in as Text nodes. Chunks may split a sequence
// anywhere; the unfinished tail waits for the next chunk.

// CSI (ESC [ params final), OSC (ESC ] … BEL or ESC \), or a two-character escape.
const SEQUENCE = /\x1b(?:\[([0-9;:?<=>]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;
const UNFINISHED = /\x1b(?:\[[0-9;:?<=>]*[ -/]*|\][^\x07\x1b]*\x1b?)?$/;
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
const MAX_PENDING = 256;

const BASIC = { 1: 'bold', 2: 'dim', 3: 'italic', 4: 'underline' };

/** Writes ANSI-coloured text into `target` (a <pre>), safely. */
export class AnsiWriter {
  constructor(target) {
    this.target = target;
    this.pending = '';
    this.style = newStyle();
  }

  /** Append a chunk of output. */
  write(chunk) {
    let text = this.pending + chunk;
    this.pending = '';
    const tail = text.match(UNFINISHED);
    if (tail && tail[0] && tail[0].length < MAX_PENDING) {
      this.pending = tail[0];
      text = text.slice(0, tail.index);
    }
    if (text.endsWith('\r')) {
      // Maybe the first half of \r\n: decide with the next chunk.
      this.pending = `\r${this.pending}`;
      text = text.slice(0, -1);
    }
    let last = 0;
    for (const match of text.matchAll(SEQUENCE)) {
      this.emit(text.slice(last, match.index));
      if (match[2] === 'm') this.applySgr(match[1]);
      last = match.index + match[0].length;
    }
    this.emit(text.slice(last));
  }

  /** Flush what waits for a next chunk (at the end of the stream). */
  end() {
    const rest = this.pending.replace(/\x1b/g, '');
    this.pending = '';
    this.emit(rest);
  }

  emit(raw) {
    // Progress bars redraw with a lone \r; a log shows each state on its own line instead.
    const text = raw.replace(/\r\n?/g, '\n').replace(CONTROL, '');
    if (!text) return;
    const classes = styleClasses(this.style);
    if (!classes.length) {
      const last = this.target.lastChild;
      if (last && last.nodeType === Node.TEXT_NODE) last.appendData(text);
      else this.target.append(text);
      return;
    }
    const span = document.createElement('span');
    span.className = classes.join(' ');
    span.textContent = text;
    this.target.append(span);
  }

  applySgr(params) {
    const codes = (params || '0').split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
    for (let i = 0; i < codes.length; i += 1) {
      const code = codes[i];
      if (code === 0) this.style = newStyle();
      else if (BASIC[code]) this.style[BASIC[code]] = true;
      else if (code === 22) this.style.bold = this.style.dim = false;
      else if (code === 23) this.style.italic = false;
      else if (code === 24) this.style.underline = false;
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) this.style.fg = code;
      else if (code === 39) this.style.fg = null;
      else if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) this.style.bg = code;
      else if (code === 49) this.style.bg = null;
      else if (code === 38 || code === 48) {
        // 256-colour and true-colour: map the 16 basic indices, skip the rest's arguments.
        const mode = codes[i + 1];
        if (mode === 5) {
          const index = codes[i + 2];
          if (index < 16) {
            const base = code === 38 ? 30 : 40;
            const colour = index < 8 ? base + index : base + 60 + index - 8;
            this.style[code === 38 ? 'fg' : 'bg'] = colour;
          }
          i += 2;
        } else if (mode === 2) {
          i += 4;
        }
      }
    }
  }
}

function newStyle() {
  return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
}

function styleClasses(style) {
  const classes = [];
  if (style.fg) classes.push(`ansi-fg-${style.fg}`);
  if (style.bg) classes.push(`ansi-bg-${style.bg}`);
  for (const name of Object.values(BASIC)) if (style[name]) classes.push(`ansi-${name}`);
  return classes;
}
