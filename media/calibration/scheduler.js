// A tiny task scheduler with priorities, retries and cancellation.
// Used only as calibration text: promises, classes, closures, maps, errors and timers.
'use strict';

class TaskError extends Error {
  constructor(task, cause) {
    super(`task ${task.name} failed after ${task.attempts} attempt(s): ${cause.message}`);
    this.task = task;
    this.cause = cause;
  }
}

class Task {
  constructor(name, run, { priority = 0, retries = 0, delayMs = 0 } = {}) {
    if (typeof run !== 'function') throw new TypeError('run must be a function');
    this.name = name;
    this.run = run;
    this.priority = priority;
    this.retries = retries;
    this.delayMs = delayMs;
    this.attempts = 0;
    this.state = 'pending';
  }
}

class Scheduler {
  constructor({ concurrency = 2, clock = Date } = {}) {
    this.concurrency = concurrency;
    this.clock = clock;
    this.queue = [];
    this.running = new Set();
    this.listeners = new Map();
    this.cancelled = false;
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(fn);
    return () => this.listeners.set(event, this.listeners.get(event).filter((f) => f !== fn));
  }

  emit(event, ...args) {
    for (const fn of this.listeners.get(event) ?? []) fn(...args);
  }

  add(task) {
    this.queue.push(task);
    // highest priority first; equal priorities keep their order of arrival
    this.queue.sort((a, b) => b.priority - a.priority);
    this.emit('queued', task);
    return task;
  }

  cancel() {
    this.cancelled = true;
    for (const t of this.queue) t.state = 'cancelled';
    this.queue = [];
  }

  async runOne(task) {
    task.state = 'running';
    this.running.add(task);
    try {
      for (;;) {
        task.attempts++;
        try {
          const result = await task.run({ attempt: task.attempts, cancelled: () => this.cancelled });
          task.state = 'done';
          this.emit('done', task, result);
          return result;
        } catch (e) {
          if (task.attempts > task.retries || this.cancelled) throw new TaskError(task, e);
          this.emit('retry', task, e);
          await new Promise((r) => setTimeout(r, task.delayMs * task.attempts));
        }
      }
    } catch (e) {
      task.state = 'failed';
      this.emit('failed', task, e);
      throw e;
    } finally {
      this.running.delete(task);
    }
  }

  async drain() {
    const results = new Map();
    const errors = [];
    const worker = async () => {
      while (this.queue.length && !this.cancelled) {
        const task = this.queue.shift();
        try {
          results.set(task.name, await this.runOne(task));
        } catch (e) {
          errors.push(e);
        }
      }
    };
    await Promise.all(Array.from({ length: this.concurrency }, worker));
    return { results, errors };
  }
}

function summary({ results, errors }) {
  const lines = [...results.entries()].map(([name, value]) => `ok    ${name}: ${JSON.stringify(value)}`);
  for (const e of errors) lines.push(`fail  ${e.task.name}: ${e.cause.message}`);
  return lines.join('\n');
}

module.exports = { Scheduler, Task, TaskError, summary };

if (require.main === module) {
  const s = new Scheduler({ concurrency: 2 });
  let flaky = 0;
  s.add(new Task('fetch', async () => 42, { priority: 2 }));
  s.add(new Task('flaky', async () => {
    if (++flaky < 3) throw new Error('not yet');
    return 'third time lucky';
  }, { retries: 3, delayMs: 5 }));
  s.add(new Task('broken', async () => { throw new Error('always'); }));
  s.on('retry', (t, e) => console.log(`retrying ${t.name}: ${e.message}`));
  s.drain().then((r) => console.log(summary(r)));
}
