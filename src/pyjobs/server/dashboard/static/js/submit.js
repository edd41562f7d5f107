// The submit form: code editor, dependencies, requirements and limits. The server is the one
// validator; its 422 answer names a field, and the message goes next to that field.

import { api, ApiError, describeError, idempotencyKey } from './api.js';
import { createEditor } from './editor.js';
import { h, notice, setText } from './dom.js';
import { highlightInto } from './highlight.js';

const EXAMPLE = 'import numpy\n\nprint(numpy.arange(10).sum())\n';

// API field → form control id. Errors name items too ("dependencies[0]", "env.FOO").
const FIELDS = {
  python_code: 'f-code',
  dependencies: 'f-deps',
  requirements_file: 'f-reqs',
  timeout_seconds: 'f-timeout',
  memory_mb: 'f-memory',
  cpu: 'f-cpu',
  network: 'f-network',
};

/** Show the form in `root`; `?from=ID` starts from that task's request. */
export function mount(root, params) {
  let key = idempotencyKey();
  const formError = h('div', { class: 'form-error' });
  const previewCode = h('code');
  const preview = h('section',
    { class: 'preview', 'aria-labelledby': 'preview-title', hidden: true },
    h('h2', { id: 'preview-title' }, 'Workflow YAML preview'),
    h('pre', { class: 'code yaml', tabindex: '0' }, previewCode));
  const submitButton = h('button', { type: 'submit', class: 'button primary' }, 'Submit task');
  const previewButton = h('button', { type: 'button', class: 'button', onclick: showPreview },
    'Preview workflow YAML');

  const form = h('form',
    { class: 'submit-form', id: 'submit-form', novalidate: true, onsubmit: submit },
    field('f-code', 'Python code',
      'Tab indents; Esc then Tab leaves the editor; Ctrl+Enter submits.',
      h('textarea', { id: 'f-code', name: 'python_code', rows: '14' })),
    h('div', { class: 'field-row' },
      field('f-deps', 'Dependencies',
        'PEP 508 requirements separated by spaces or commas, e.g. numpy pandas>=2.',
        h('input', { id: 'f-deps', name: 'dependencies', type: 'text', spellcheck: 'false',
          autocapitalize: 'off', autocomplete: 'off', placeholder: 'numpy pandas>=2' })),
      field('f-reqs', 'requirements.txt',
        'Optional: requirements, comments and --hash= lines; other options are refused.',
        h('textarea', { id: 'f-reqs', name: 'requirements_file', rows: '3', spellcheck: 'false',
          class: 'mono', placeholder: 'requests==2.32.3' }))),
    h('fieldset', { class: 'limits' },
      h('legend', {}, 'Limits'),
      field('f-timeout', 'Timeout (seconds)', '1 to 86400.',
        h('input', { id: 'f-timeout', name: 'timeout_seconds', type: 'number', min: '1',
          max: '86400', step: '1', value: '3600', inputmode: 'numeric' })),
      field('f-memory', 'Memory (MB)', 'Optional.',
        h('input', { id: 'f-memory', name: 'memory_mb', type: 'number', min: '16', step: '1',
          inputmode: 'numeric' })),
      field('f-cpu', 'CPU (cores)', 'Optional, e.g. 0.5.',
        h('input', { id: 'f-cpu', name: 'cpu', type: 'number', min: '0.001', step: 'any',
          inputmode: 'decimal' })),
      h('div', { class: 'field check', 'data-field': 'f-network' },
        h('input', { id: 'f-network', name: 'network', type: 'checkbox', checked: true,
          'aria-describedby': 'f-network-hint f-network-error' }),
        h('label', { for: 'f-network' }, 'Network access for the code'),
        h('p', { class: 'hint', id: 'f-network-hint' },
          'Off: the code runs without network (packages still install).'),
        h('p', { class: 'field-error', id: 'f-network-error', hidden: true }))),
    formError,
    h('div', { class: 'actions' }, submitButton, previewButton));

  root.append(h('section', { class: 'view', 'aria-labelledby': 'new-title' },
    h('div', { class: 'view-head' }, h('h1', { id: 'new-title' }, 'New task')),
    form, preview));

  const editor = createEditor(form.querySelector('#f-code'));
  editor.value = EXAMPLE;
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  if (params.get('from')) prefill(params.get('from'));

  async function prefill(id) {
    try {
      const task = await api.getTask(id);
      fill(form, editor, task.spec);
    } catch (error) {
      const text = `Could not load task ${id}: ${describeError(error)}`;
      formError.replaceChildren(notice(text, 'error'));
    }
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors(form, formError);
    submitButton.disabled = true;
    setText(submitButton, 'Submitting…');
    try {
      const created = await api.submit(specOf(form, editor), key);
      key = idempotencyKey();
      location.hash = `#/tasks/${encodeURIComponent(created.id)}`;
    } catch (error) {
      // The request was answered: a corrected form is a new request, with a new key.
      if (error instanceof ApiError && error.status !== 0) key = idempotencyKey();
      showError(form, formError, error);
    } finally {
      submitButton.disabled = false;
      setText(submitButton, 'Submit task');
    }
  }

  async function showPreview() {
    clearErrors(form, formError);
    try {
      highlightInto(previewCode, await api.preview(specOf(form, editor)), 'yaml');
      preview.hidden = false;
      preview.scrollIntoView({ block: 'nearest' });
    } catch (error) {
      showError(form, formError, error);
    }
  }
  return () => {};
}

function field(id, label, hint, control) {
  control.setAttribute('aria-describedby', `${id}-hint ${id}-error`);
  return h('div', { class: 'field', 'data-field': id },
    h('label', { for: id }, label),
    control,
    h('p', { class: 'hint', id: `${id}-hint` }, hint),
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}

function specOf(form, editor) {
  const value = (name) => form.elements[name].value.trim();
  const spec = { python_code: editor.value, network: form.elements.network.checked };
  if (value('dependencies')) spec.dependencies = value('dependencies');
  if (form.elements.requirements_file.value.trim()) {
    spec.requirements_file = form.elements.requirements_file.value;
  }
  for (const name of ['timeout_seconds', 'memory_mb', 'cpu']) {
    // A number input holding garbage reads as "": the server's default then applies.
    if (value(name) !== '') spec[name] = Number(value(name));
  }
  return spec;
}

function fill(form, editor, spec) {
  editor.value = spec.python_code || '';
  form.elements.dependencies.value = (spec.dependencies || []).join(' ');
  form.elements.requirements_file.value = spec.requirements_file || '';
  form.elements.timeout_seconds.value = spec.timeout_seconds ?? 3600;
  form.elements.memory_mb.value = spec.memory_mb ?? '';
  form.elements.cpu.value = spec.cpu ?? '';
  form.elements.network.checked = spec.network !== false;
}

function clearErrors(form, formError) {
  formError.replaceChildren();
  for (const message of form.querySelectorAll('.field-error')) {
    message.hidden = true;
    message.textContent = '';
  }
  for (const control of form.querySelectorAll('[aria-invalid]')) {
    control.removeAttribute('aria-invalid');
  }
  for (const box of form.querySelectorAll('.field.invalid')) box.classList.remove('invalid');
}

function showError(form, formError, error) {
  const name = error instanceof ApiError && error.field ? error.field.split(/[.[]/)[0] : '';
  const id = FIELDS[name];
  if (!id || error.status !== 422) {
    formError.replaceChildren(notice(describeError(error), 'error'));
    return;
  }
  const control = form.querySelector(`#${id}`);
  const message = form.querySelector(`#${id}-error`);
  const item = error.field.match(/^\w+\[(\d+)\]/);
  message.textContent = item ? `Item ${Number(item[1]) + 1}: ${error.message}` : error.message;
  message.hidden = false;
  message.setAttribute('role', 'alert');
  control.setAttribute('aria-invalid', 'true');
  control.closest('.field').classList.add('invalid');
  control.focus();
}
