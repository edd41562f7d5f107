// The task list: newest first, filtered by status, paged with the API's keyset cursor and
// refreshed by polling while the tab is visible.

import { api, describeError } from './api.js';
import { cell, h, icon, setText, showProblem, statusBadge, timeAgo } from './dom.js';
import { Poller } from './poll.js';

const STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];
const PAGE_SIZE = 20;
const POLL_MS = 2000;

/** Show the list in `root`; `params` may hold `status` and `limit`. Returns its cleanup. */
export function mount(root, params) {
  let status = STATUSES.includes(params.get('status')) ? params.get('status') : '';
  const limit = Math.min(Math.max(Number(params.get('limit')) || PAGE_SIZE, 1), 500);
  // Keyset paging only goes forward; "previous" is the cursor we came from, kept here.
  const cursors = [];
  let cursor = null;
  let known = new Map();

  const filter = h(
    'select',
    { id: 'status-filter', name: 'status', onchange: () => {
      // Filter in place (focus stays on the select); the URL follows without a reload.
      status = filter.value;
      if (status) params.set('status', status);
      else params.delete('status');
      history.replaceState(null, '', params.size ? `#/?${params}` : '#/');
      cursors.length = 0;
      cursor = null;
      refresh(true);
    } },
    h('option', { value: '' }, 'All statuses'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)),
  );
  const live = h('p', { class: 'live-note', 'aria-live': 'polite', id: 'list-live' });
  const problem = h('div', { class: 'problem' });
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'tasks', id: 'tasks-table' },
    h('caption', { class: 'visually-hidden' }, 'Tasks, newest first'),
    h('thead', {}, h('tr', {}, ['Task', 'Status', 'Run', 'Dependencies', 'Created'].map(
      (title) => h('th', { scope: 'col' }, title),
    ))),
    body,
  );
  const empty = h('p', { class: 'empty', hidden: true });
  const previous = h('button', { type: 'button', class: 'button', onclick: () => {
    cursor = cursors.pop() ?? null;
    refresh(true);
  } }, icon('←'), 'Newer');
  const next = h('button', { type: 'button', class: 'button', onclick: () => {
    cursors.push(cursor);
    cursor = next.dataset.cursor;
    refresh(true);
  } }, 'Older', icon('→'));
  const pageLabel = h('span', { class: 'page-label' });
  // Nothing of the table shows before a first page came (say, on a 401).
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages', hidden: true },
    previous, pageLabel, next);
  table.hidden = true;

  root.append(h('section', { class: 'view', 'aria-labelledby': 'tasks-title' },
    h('div', { class: 'view-head' },
      h('h1', { id: 'tasks-title' }, 'Tasks'),
      h('a', { class: 'button primary', href: '#/new' }, icon('+'), 'New task')),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'status-filter' }, 'Status'), filter, live),
    problem,
    h('div', { class: 'table-wrap' }, table),
    empty,
    pager));

  let latestRequest = 0;
  async function refresh(userAction = false) {
    // A poll still in flight when the filter or page changed must not paint the old answer.
    const request = ++latestRequest;
    let page;
    try {
      page = await api.listTasks({ status, cursor, limit });
      if (request !== latestRequest) return;
    } catch (error) {
      if (request !== latestRequest) return;
      showProblem(problem, describeError(error));
      table.hidden = pager.hidden = empty.hidden = true;
      return;
    }
    showProblem(problem);
    render(page, userAction);
  }

  function render(page, userAction) {
    const changes = [];
    for (const task of page.data) {
      const before = known.get(task.id);
      if (before && before !== task.status) {
        changes.push(`${task.title || task.id} is now ${task.status}`);
      }
    }
    known = new Map(page.data.map((task) => [task.id, task.status]));
    body.replaceChildren(...page.data.map(row));
    empty.hidden = page.data.length > 0;
    empty.replaceChildren(...(status ? [`No ${status} tasks.`]
      : ['No tasks yet. ', h('a', { href: '#/new' }, 'Submit the first one.')]));
    table.hidden = page.data.length === 0;
    pager.hidden = page.data.length === 0 && cursors.length === 0;
    previous.disabled = cursors.length === 0;
    next.disabled = !page.next_cursor;
    next.dataset.cursor = page.next_cursor || '';
    setText(pageLabel, `Page ${cursors.length + 1}`);
    // Announce what changed, not the whole table every two seconds.
    const count = page.data.length;
    if (userAction) setText(live, `${count} ${count === 1 ? 'task' : 'tasks'} shown.`);
    else if (changes.length) setText(live, changes.join('. '));
  }

  const poller = new Poller(() => refresh(), POLL_MS);
  refresh(true).then(() => poller.start());
  return () => poller.stop();
}

function row(task) {
  const link = `#/tasks/${encodeURIComponent(task.id)}`;
  const deps = task.dependencies.length
    ? task.dependencies.map((d) => h('code', { class: 'dep' }, d))
    : h('span', { class: 'muted' }, 'none');
  return h('tr', { 'data-task': task.id, 'data-status': task.status },
    cell('Task',
      h('a', { class: 'task-link', href: link }, h('code', {}, task.title || '(empty)')),
      h('span', { class: 'task-id muted' }, task.id)),
    cell('Status', statusBadge(task.status)),
    cell('Run', `#${task.latest_run}`),
    cell('Dependencies', deps),
    cell('Created', timeAgo(task.created_at)));
}
