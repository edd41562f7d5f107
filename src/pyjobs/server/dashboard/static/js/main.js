// The dashboard's entry point: a hash router (#/, #/new, #/tasks/ID) and the token panel.

import { getToken, onUnauthorized } from './api.js';
import { focusHeading, h } from './dom.js';
import * as list from './list.js';
import * as submit from './submit.js';
import * as task from './task.js';
import { TokenPanel } from './token.js';

const main = document.getElementById('main');
let cleanup = null;

function parseHash() {
  const raw = location.hash.slice(1) || '/';
  const [path, query = ''] = raw.split('?');
  return { path, params: new URLSearchParams(query) };
}

/** Show the view the hash names, closing the previous one (polls, log streams). */
function route({ focus = true } = {}) {
  const { path, params } = parseHash();
  if (!path.startsWith('/')) return; // an in-page anchor, not a view
  if (cleanup) cleanup();
  cleanup = null;
  main.replaceChildren();
  let match;
  let section = 'tasks';
  if (path === '/' || path === '/tasks') {
    cleanup = list.mount(main, params);
    document.title = 'Tasks · pyjobs';
  } else if (path === '/new') {
    section = 'new';
    cleanup = submit.mount(main, params);
    document.title = 'New task · pyjobs';
  } else if ((match = path.match(/^\/tasks\/([A-Za-z0-9_-]+)$/))) {
    cleanup = task.mount(main, match[1]);
    document.title = `Task ${match[1]} · pyjobs`;
  } else {
    section = '';
    main.append(h('section', { class: 'view' }, h('h1', {}, 'Not found'),
      h('p', {}, 'No such page. ', h('a', { href: '#/' }, 'Back to the tasks.'))));
    document.title = 'Not found · pyjobs';
  }
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (focus) focusHeading(main);
}

const tokens = new TokenPanel(document, () => route({ focus: false }));
const HOW = 'pyjobs token create NAME';
onUnauthorized(() => tokens.ask(getToken()
  ? `The server refused this token (401 Unauthorized). Check it, or create a new one: ${HOW}.`
  : `This server needs an access token (401 Unauthorized). Paste one created with ${HOW}.`));

document.getElementById('skip-link').addEventListener('click', (event) => {
  // The hash belongs to the router: move focus without touching it.
  event.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', () => route());
route({ focus: false });
