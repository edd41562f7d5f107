// Polling that waits for each refresh to finish before scheduling the next, and sleeps
// while the tab is hidden (a background tab need not hammer the server).

/** Calls `task()` every `interval` ms between start() and stop(). */
export class Poller {
  constructor(task, interval) {
    this.task = task;
    this.interval = interval;
    this.timer = 0;
    this.running = false;
    this.onVisibility = () => {
      if (!document.hidden && this.running) this.kick();
    };
  }

  start() {
    if (this.running) return;
    this.running = true;
    document.addEventListener('visibilitychange', this.onVisibility);
    this.schedule();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  /** Run now (after a user action, on becoming visible), then keep the rhythm. */
  kick() {
    clearTimeout(this.timer);
    this.tick();
  }

  schedule() {
    clearTimeout(this.timer);
    if (this.running) this.timer = setTimeout(() => this.tick(), this.interval);
  }

  async tick() {
    if (!this.running) return;
    if (document.hidden) return; // resumed by visibilitychange
    try {
      await this.task();
    } finally {
      this.schedule();
    }
  }
}
