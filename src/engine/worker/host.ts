// The engine host process (dist/engine-host.js). Model work runs one call at a time, in arrival
// order; pings and status answers do not wait behind it. A cancel aborts the call's signal, which
// the engine checks between onnxruntime runs.
import { EngineError } from '../errors';
import { EngineService } from '../service';
import { EngineEvent, FromHost, Method, Methods, ToHost } from '../protocol';

const service = new EngineService();
const controllers = new Map<number, AbortController>();
let queue: Promise<void> = Promise.resolve();

function reply(m: FromHost): void {
  process.send?.(m);
}

async function run(id: number, method: Method, params: unknown, signal: AbortSignal): Promise<void> {
  try {
    const emit = (event: EngineEvent) => reply({ type: 'event', id, event });
    // the client's typed call() sent params of this method's shape; they crossed the process boundary as JSON
    const result = await service.dispatch(method, params as Methods[Method]['params'], { signal, emit });
    reply({ type: 'result', id, result });
  } catch (e) {
    const err = e instanceof EngineError ? e : new EngineError('internal', (e as Error).stack ?? String(e));
    reply({ type: 'error', id, code: err.code, message: err.message });
  } finally {
    controllers.delete(id);
  }
}

process.on('message', (m: ToHost) => {
  if (m.type === 'shutdown') {
    service.dispose().finally(() => process.exit(0));
    return;
  }
  if (m.type === 'cancel') {
    controllers.get(m.id)?.abort();
    return;
  }
  const ac = new AbortController();
  controllers.set(m.id, ac);
  if (!EngineService.needsModel(m.method)) {
    void run(m.id, m.method, m.params, ac.signal);
    return;
  }
  queue = queue.then(() => run(m.id, m.method, m.params, ac.signal));
});

// The client going away (window closed, extension host crashed) must not leave us running.
process.on('disconnect', () => process.exit(0));
reply({ type: 'ready', pid: process.pid });
