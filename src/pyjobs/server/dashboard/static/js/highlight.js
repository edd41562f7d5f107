// Syntax highlighting with Prism's tokenizer: tokens become <span class="token …"> elements
// holding Text nodes. Prism.highlight() would return an HTML string; this never parses one.

import './prism-config.js';
import '../vendor/prismjs-1.30.0/prism-core.min.js';
import '../vendor/prismjs-1.30.0/prism-python.min.js';
import '../vendor/prismjs-1.30.0/prism-yaml.min.js';

const Prism = globalThis.Prism;

/** Replace `element`'s content with `text` highlighted as `language` ("python", "yaml"). */
export function highlightInto(element, text, language) {
  const grammar = Prism.languages[language];
  element.replaceChildren();
  if (!grammar) {
    element.textContent = text;
    return;
  }
  appendTokens(element, Prism.tokenize(text, grammar));
}

function appendTokens(parent, tokens) {
  for (const token of tokens) {
    if (typeof token === 'string') {
      parent.append(token);
      continue;
    }
    const span = document.createElement('span');
    span.classList.add('token', token.type, ...[].concat(token.alias || []));
    appendTokens(span, Array.isArray(token.content) ? token.content : [token.content]);
    parent.append(span);
  }
}
