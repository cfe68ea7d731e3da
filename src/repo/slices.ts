// Long synchronous work (reading files, tokenizing) cut into slices of a few milliseconds. Between
// slices the event loop runs, so cancellation, progress messages and, in the extension host, the
// editor itself get their turn.

/** Returns `pause`, to await between work items: it yields once per `ms` of work, and throws the abort reason once `signal` has fired. */
export function timeSlices(signal: AbortSignal | undefined, ms = 10): () => Promise<void> {
  let start = performance.now();
  return async () => {
    if (performance.now() - start >= ms) {
      await new Promise((resolve) => setImmediate(resolve));
      start = performance.now();
    }
    signal?.throwIfAborted();
  };
}
