// `@repo` in VS Code's own chat view, where that view can run third-party participants (it needs a
// Copilot sign-in: vscode.md §2.2), so the sidebar stays the main surface. The handler streams the
// engine's answer as markdown and lists the snapshot files the answer names as references.
// Typed against the few members it uses, so tests drive it with a fake stream.
import { findFileRefs, resolver } from '../webview/links';
import type { AnswerStats } from '../webview/protocol';
import type { AnswerOptions } from './chat';
import { describeError } from './errors';

export interface ParticipantStream<U> {
  progress(value: string): void;
  markdown(value: string): void;
  reference(value: U): void;
}

export interface CancellationLike {
  isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

export interface ParticipantResult {
  errorDetails?: { message: string };
  metadata?: { stats: AnswerStats };
}

export interface ParticipantDeps<U> {
  answer: (question: string, opts: AnswerOptions) => Promise<AnswerStats>;
  /** The snapshot's files, for recognising paths in the answer. */
  files: () => ReadonlySet<string>;
  toUri: (relativePath: string) => U;
}

export function participantHandler<U>(deps: ParticipantDeps<U>) {
  return async (request: { prompt: string }, _context: unknown, stream: ParticipantStream<U>, token: CancellationLike): Promise<ParticipantResult> => {
    const question = request.prompt.trim();
    if (!question) {
      stream.markdown('Ask a question about this repository, e.g. `@repo where is the configuration read?`');
      return {};
    }
    const controller = new AbortController();
    const sub = token.onCancellationRequested(() => controller.abort());
    if (token.isCancellationRequested) controller.abort();
    let text = '';
    try {
      stream.progress('Answering from the compressed repository cache…');
      const stats = await deps.answer(question, {
        signal: controller.signal,
        onText: (delta) => {
          text += delta;
          stream.markdown(delta);
        },
      });
      const seen = new Set<string>();
      for (const { ref } of findFileRefs(text, resolver(deps.files()))) {
        if (seen.has(ref.path)) continue;
        seen.add(ref.path);
        stream.reference(deps.toUri(ref.path));
      }
      return { metadata: { stats } };
    } catch (e) {
      const d = describeError(e);
      return d.cancelled ? {} : { errorDetails: { message: d.message } };
    } finally {
      sub.dispose();
    }
  };
}
