// One task: its request, its runs (status, reason, exit code, timings, env cache), re-run and
// cancel, the live log of the chosen run and its Argo Workflow YAML.

import { api, describeError } from './api.js';
import {
  cell, duration, h, icon, parseTime, setText, showProblem, statusBadge, timeAgo,
} from './dom.js';
import { highlightInto } from './highlight.js';
import { LogView, manifestView } from './logs.js';
import { Poller } from './poll.js';

const ACTIVE = new Set(['pending', 'running']);
const POLL_ACTIVE_MS = 1000;
const POLL_IDLE_MS = 5000;

/** Show task `id` in `root`. Returns the view's cleanup. */
export function mount(root, id) {
  const logs = new LogView(id);
  const manifest = manifestView(id, highlightInto);
  let task = null;
  let chosen = null; // a run the user picked; null follows the latest
  let gone = false;

  const heading = h('h1', { id: 'task-title' }, 'Task ', h('code', {}, id));
  const badge = h('span', { class: 'task-status', id: 'task-status', 'aria-live': 'polite' });
  const problem = h('div', { class: 'problem' });
  const message = h('p', { class: 'action-message', role: 'status', id: 'action-message' });
  const rerun = h('button',
    { type: 'button', class: 'button primary', id: 'rerun', onclick: doRerun },
    icon('↻'), 'Re-run');
  const cancel = h('button',
    { type: 'button', class: 'button danger', id: 'cancel', onclick: doCancel },
    icon('■'), 'Cancel');
  const edit = h('a', { class: 'button', href: `#/new?from=${encodeURIComponent(id)}` },
    'Edit as new');
  const codeBlock = h('code');
  const facts = h('dl', { class: 'facts' });
  const runsBody = h('tbody');

  root.append(h('article', { class: 'view', 'aria-labelledby': 'task-title' },
    h('div', { class: 'view-head' }, heading, badge),
    problem,
    h('div', { class: 'actions' }, rerun, cancel, edit, message),
    h('section', { class: 'card', 'aria-labelledby': 'runs-title' },
      h('h2', { id: 'runs-title' }, 'Runs'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'runs', id: 'runs-table' },
        h('thead', {}, h('tr', {}, ['Run', 'Status', 'Reason', 'Exit code', 'Setup', 'Run time',
          'Env cache', 'Started', ''].map((t) => h('th', { scope: 'col' }, t)))),
        runsBody))),
    h('div', { class: 'task-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'request-title' },
        h('h2', { id: 'request-title' }, 'Request'),
        h('pre', { class: 'code', tabindex: '0', 'aria-label': 'Python code' }, codeBlock),
        facts),
      h('section', { class: 'card run-detail' }, logs.element, manifest.element))));

  async function refresh() {
    try {
      task = await api.getTask(id);
    } catch (error) {
      showProblem(problem, describeError(error));
      if (error.status === 404) {
        gone = true; // deleted, or never ours: it will not come back
        poller.stop();
      }
      return;
    }
    showProblem(problem);
    render();
  }

  function render() {
    const latest = task.runs[task.runs.length - 1];
    const active = ACTIVE.has(latest.status);
    if (badge.dataset.status !== task.status) {
      badge.dataset.status = task.status;
      badge.replaceChildren(statusBadge(task.status));
    }
    rerun.disabled = active;
    cancel.disabled = !active || latest.cancel_requested;
    if (!codeBlock.dataset.done) {
      codeBlock.dataset.done = '1';
      highlightInto(codeBlock, task.spec.python_code, 'python');
      renderFacts(facts, task);
    }
    const number = chosen ?? latest.number;
    const run = task.runs.find((r) => r.number === number) || latest;
    // Rebuild the table only when it changed: a rebuilt button would lose keyboard focus.
    const snapshot = JSON.stringify([run.number, task.runs]);
    if (runsBody.dataset.snapshot !== snapshot) {
      runsBody.dataset.snapshot = snapshot;
      const newestFirst = task.runs.slice().reverse();
      runsBody.replaceChildren(...newestFirst.flatMap((r) => runRow(r, r.number === run.number)));
    }
    logs.show(run.number, ACTIVE.has(run.status));
    manifest.setRun(run.number);
    poller.interval = active ? POLL_ACTIVE_MS : POLL_IDLE_MS;
  }

  function runRow(run, selected) {
    const reason = run.reason ? h('span', { title: run.message || '' }, run.reason) : '—';
    const cache = run.env_cache_hit === null || run.env_cache_hit === undefined
      ? '—' : (run.env_cache_hit ? 'hit' : 'built');
    const started = parseTime(run.started_at) ? timeAgo(run.started_at) : '—';
    const show = h('button', {
      type: 'button', class: 'button small', 'aria-pressed': String(selected),
      'aria-label': `Show run ${run.number}`,
      onclick: () => {
        chosen = run.number;
        render();
      },
    }, 'Show');
    const cells = [
      ['Run', `#${run.number}`], ['Status', statusBadge(run.status)], ['Reason', reason],
      ['Exit code', run.exit_code ?? '—'], ['Setup', duration(run.setup_seconds)],
      ['Run time', duration(run.run_seconds)], ['Env cache', cache], ['Started', started],
      ['', show],
    ];
    const row = h('tr', { class: selected ? 'selected' : '', 'data-run': run.number },
      cells.map(([label, value]) => cell(label, value)));
    return run.message && run.status !== 'succeeded'
      ? [row, h('tr', { class: 'run-message' }, h('td', { colspan: '9' }, run.message))]
      : row;
  }

  async function doRerun() {
    rerun.disabled = true;
    setText(message, 'Starting a new run…');
    try {
      const started = await api.rerun(id);
      chosen = null;
      setText(message, `Run ${started.run_number} started.`);
    } catch (error) {
      setText(message, describeError(error));
    }
    poller.kick();
  }

  async function doCancel() {
    cancel.disabled = true;
    setText(message, 'Cancelling…');
    try {
      task = await api.cancel(id);
      setText(message, 'Cancel requested.');
      render();
    } catch (error) {
      setText(message, describeError(error));
    }
    poller.kick();
  }

  const poller = new Poller(refresh, POLL_ACTIVE_MS);
  refresh().then(() => gone || poller.start());
  return () => {
    poller.stop();
    logs.stop();
  };
}

function renderFacts(facts, task) {
  const spec = task.spec;
  const entries = [
    ['Dependencies', spec.dependencies?.length
      ? spec.dependencies.map((d) => h('code', { class: 'dep' }, d)) : 'none'],
    ['requirements.txt', spec.requirements_file
      ? h('pre', { class: 'mini' }, spec.requirements_file) : 'none'],
    ['Timeout', `${spec.timeout_seconds} s`],
    ['Memory', spec.memory_mb ? `${spec.memory_mb} MB` : 'no limit'],
    ['CPU', spec.cpu ? `${spec.cpu} cores` : 'no limit'],
    ['Network', spec.network === false ? 'off' : 'on'],
    ['Created', timeAgo(task.created_at)],
  ];
  facts.replaceChildren(
    ...entries.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  );
}
