// The access-token panel: asked for on a 401, kept in sessionStorage, sent as a bearer header.

import { clearToken, getToken, setToken } from './api.js';

/** The header's token button and panel; `onChange` runs after the token changes. */
export class TokenPanel {
  constructor(doc, onChange) {
    this.panel = doc.getElementById('token-panel');
    this.form = doc.getElementById('token-form');
    this.input = doc.getElementById('token-input');
    this.message = doc.getElementById('token-message');
    this.toggle = doc.getElementById('token-toggle');
    this.onChange = onChange;
    this.dismissed = false;
    this.toggle.addEventListener('click', () => (this.panel.hidden ? this.open() : this.close()));
    doc.getElementById('token-close').addEventListener('click', () => this.close());
    doc.getElementById('token-forget').addEventListener('click', () => {
      clearToken();
      this.input.value = '';
      this.close();
      this.update();
      this.onChange();
    });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!this.input.value.trim()) {
        this.say('Paste a token first.');
        this.input.focus();
        return;
      }
      setToken(this.input.value);
      this.input.value = '';
      this.close();
      this.update();
      this.onChange();
    });
    this.panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.close();
    });
    this.update();
  }

  /**
   * Show `message` (a 401) and open the panel, once: polls keep getting 401s, and a panel
   * the user closed must not spring open again every two seconds.
   */
  ask(message) {
    if (this.dismissed) return;
    this.say(message);
    if (this.panel.hidden) this.open();
  }

  open() {
    this.dismissed = false;
    this.panel.hidden = false;
    this.toggle.setAttribute('aria-expanded', 'true');
    this.input.focus();
  }

  close() {
    this.dismissed = !this.message.hidden;
    this.panel.hidden = true;
    this.message.hidden = true;
    this.toggle.setAttribute('aria-expanded', 'false');
  }

  say(text) {
    this.message.textContent = text;
    this.message.hidden = false;
  }

  update() {
    this.dismissed = false;
    const set = Boolean(getToken());
    this.toggle.textContent = set ? 'Token ✓' : 'Token';
    this.toggle.setAttribute('aria-label', set ? 'Access token (set)' : 'Access token (not set)');
  }
}
