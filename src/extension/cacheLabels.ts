// The cache state in words: the status bar item's text and tooltip, and the chat panel's header.
import { formatBytes } from '../engine/editor';
import type { CacheState } from '../webview/protocol';
import type { CacheStatus } from './cache';

const percent = (f: number): string => `${Math.round(f * 100)}%`;
const files = (n: number): string => `${n} ${n === 1 ? 'file' : 'files'}`;

export interface StatusBarText {
  /** With codicons ($(name)), as StatusBarItem.text takes them. */
  text: string;
  tooltip: string;
}

export function statusBarText(s: CacheStatus): StatusBarText {
  const actions = 'Click for cache actions.';
  switch (s.kind) {
    case 'unknown':
      return { text: '$(database) repozip', tooltip: `Checking the repository cache… ${actions}` };
    case 'missing':
      return { text: '$(circle-slash) repozip: no cache', tooltip: `No compressed cache for this workspace yet. ${actions}` };
    case 'building':
      return { text: `$(sync~spin) repozip: building ${percent(s.fraction)}`, tooltip: `${s.message}. ${actions}` };
    case 'ready':
      return {
        text: `$(database) repozip: ready · ${formatBytes(s.bytes)} · ${percent(s.keptRatio)} kept`,
        tooltip: `The cache matches the workspace files. ${actions}`,
      };
    case 'stale':
      return {
        text: `$(warning) repozip: stale · ${files(s.changedFiles)} changed`,
        tooltip: `${files(s.changedFiles)} changed since the cache was built. ${actions}`,
      };
    case 'error':
      return { text: '$(error) repozip: error', tooltip: `${s.message}\n${actions}` };
  }
}

export function panelState(s: CacheStatus): CacheState {
  switch (s.kind) {
    case 'unknown':
      return { kind: 'missing', label: 'Checking the cache…' };
    case 'missing':
      return { kind: 'missing', label: 'No cache yet' };
    case 'building':
      return { kind: 'building', label: 'Building the cache', detail: s.message, progress: s.fraction };
    case 'ready':
      return { kind: 'ready', label: 'Cache ready', detail: `${formatBytes(s.bytes)} · ${percent(s.keptRatio)} kept` };
    case 'stale':
      return { kind: 'stale', label: 'Stale', detail: `${files(s.changedFiles)} changed` };
    case 'error':
      return { kind: 'error', label: 'Cache error', detail: s.message.split('\n')[0] };
  }
}
