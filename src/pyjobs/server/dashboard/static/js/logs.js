// A run's output in a <pre role="log">: fetched once for a finished run, followed through
// `?follow=true` for an active one, and kept scrolled to the end while the reader is there.

import { api, describeError } from './api.js';
import { AnsiWriter } from './ansi.js';
import { h, setText } from './dom.js';

/** The log panel of one task; show(run, active) switches it to a run. */
export class LogView {
  constructor(taskId) {
    this.taskId = taskId;
    this.controller = null;
    this.run = null;
    this.state = h('span', { class: 'log-state', id: 'log-state' });
    this.output = h('pre', {
      class: 'log', id: 'log', role: 'log', tabindex: '0', 'aria-live': 'polite',
      'aria-labelledby': 'log-title',
    });
    this.title = h('h3', { id: 'log-title' }, 'Output');
    this.element = h('section', { class: 'log-panel', 'aria-labelledby': 'log-title' },
      h('div', { class: 'log-head' }, this.title, this.state),
      this.output);
  }

  /** Show run `run`; follow it live when `active`. Showing the same run again is a no-op. */
  show(run, active) {
    if (this.run === run && (this.following || !active)) return;
    this.stop();
    this.run = run;
    setText(this.title, `Output of run ${run}`);
    this.output.replaceChildren();
    this.load(run, active);
  }

  async load(run, follow) {
    const controller = new AbortController();
    this.controller = controller;
    this.following = follow;
    const writer = new AnsiWriter(this.output);
    setText(this.state, follow ? 'following live…' : 'loading…');
    this.state.classList.toggle('live', follow);
    try {
      for await (const chunk of api.logs(this.taskId, run, { follow, signal: controller.signal })) {
        const atEnd = this.isAtEnd();
        writer.write(chunk);
        if (atEnd) this.output.scrollTop = this.output.scrollHeight;
      }
      writer.end();
      setText(this.state, this.output.textContent ? 'complete' : 'no output');
    } catch (error) {
      if (controller.signal.aborted) return;
      setText(this.state, `could not load: ${describeError(error)}`);
    } finally {
      if (this.controller === controller) {
        this.following = false;
        this.state.classList.remove('live');
      }
    }
  }

  isAtEnd() {
    const { scrollTop, scrollHeight, clientHeight } = this.output;
    return scrollHeight - scrollTop - clientHeight < 24;
  }

  /** Close the connection of a followed log. */
  stop() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.following = false;
  }
}

/** The Argo Workflow YAML of a run, loaded when its <details> opens. */
export function manifestView(taskId, highlight) {
  const code = h('code');
  const details = h('details', { class: 'manifest', id: 'manifest' },
    h('summary', {}, 'Argo Workflow YAML'),
    h('pre', { class: 'code yaml', tabindex: '0' }, code));
  let run = null;
  let loaded = null;
  const load = async () => {
    if (!details.open || loaded === run) return;
    loaded = run;
    setText(code, 'loading…');
    try {
      highlight(code, await api.manifest(taskId, run), 'yaml');
    } catch (error) {
      loaded = null;
      setText(code, describeError(error));
    }
  };
  details.addEventListener('toggle', load);
  return {
    element: details,
    /** Point the view at run `number` (loads now if open). */
    setRun(number) {
      run = number;
      const summary = details.querySelector('summary');
      setText(summary, `Argo Workflow YAML of run ${number}`);
      load();
    },
  };
}
