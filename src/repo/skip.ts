// Which listed files stay out of the context, and why. Name rules need no bytes; content rules
// run on the bytes file.ts has read anyway. Every skip carries a reason the UI can show, because
// "why is my file missing?" must never need a debugger.

export type SkipReason =
  | 'binary' // a known binary extension, or a NUL byte in the first 8 KiB
  | 'not-utf8' // the bytes are not valid UTF-8
  | 'too-large' // larger than maxFileBytes (decided from its size, without reading it)
  | 'generated' // build output (dist/, /build/), generated names (*.min.js, *.pb.go, ...) or a marker comment
  | 'lock-file' // a dependency lock file: long, machine-written, rarely worth a question
  | 'symlink-loop' // a symlink that never resolves
  | 'symlink-outside' // a symlink to something outside the root
  | 'unreadable' // an I/O error, or a dangling symlink
  | 'nested-repo' // a git submodule or an untracked nested repository (another project)
  | 'not-a-file'; // a symlink to a directory, a FIFO, a socket, a device

export interface SkippedFile {
  path: string;
  reason: SkipReason;
  /** Human-readable specifics: the extension, the size, the matched rule, the error code. */
  detail: string;
}

export type Skip = { reason: SkipReason; detail: string };

/** Read this far to decide "binary" (git's own heuristic looks at the first 8000 bytes). */
export const BINARY_SNIFF_BYTES = 8192;
/** How many leading lines may carry a generated-code marker (room for a short licence header). */
export const MARKER_LINES = 10;

// A marker counts only in a comment line: "x = 1  # DO NOT EDIT THIS LINE" in hand-written code,
// or a generator script's template further down, must not drop a file.
const COMMENT_LINE = /^\s*(\/\/|\/\*|\*|#|--|;|<!--|%)/;
const GENERATED_MARKER = /@generated\b|DO NOT EDIT/;

// Strict (invalid bytes throw rather than become U+FFFD) and BOM-preserving (the text then
// encodes back to exactly the bytes that were hashed). A non-streaming decode keeps no state.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const LOCK_FILES = new Set([
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lock',
  'bun.lockb',
  'deno.lock',
  'Cargo.lock',
  'poetry.lock',
  'Pipfile.lock',
  'pdm.lock',
  'uv.lock',
  'go.sum',
  'go.work.sum',
  'composer.lock',
  'Gemfile.lock',
  'mix.lock',
  'pubspec.lock',
  'Package.resolved',
  'Podfile.lock',
  'flake.lock',
  'packages.lock.json',
  'gradle.lockfile',
  'conan.lock',
]);

const BINARY_EXTENSIONS = new Set([
  // images and fonts
  'png',
  'jpg',
  'jpeg',
  'gif',
  'bmp',
  'ico',
  'icns',
  'webp',
  'tif',
  'tiff',
  'psd',
  'avif',
  'heic',
  'woff',
  'woff2',
  'ttf',
  'otf',
  'eot',
  // audio and video
  'mp3',
  'mp4',
  'm4a',
  'wav',
  'ogg',
  'flac',
  'avi',
  'mov',
  'mkv',
  'webm',
  // archives and documents
  'zip',
  'gz',
  'tgz',
  'bz2',
  'xz',
  'zst',
  '7z',
  'rar',
  'tar',
  'jar',
  'war',
  'pdf',
  'doc',
  'docx',
  'xls',
  'xlsx',
  'ppt',
  'pptx',
  // compiled code and native libraries
  'exe',
  'dll',
  'so',
  'dylib',
  'a',
  'lib',
  'o',
  'obj',
  'class',
  'pyc',
  'pyo',
  'wasm',
  'node',
  // data and model weights
  'sqlite',
  'db',
  'parquet',
  'npy',
  'npz',
  'pkl',
  'pt',
  'pth',
  'ckpt',
  'safetensors',
  'onnx',
  'gguf',
]);

// Build output: dist/ at any depth (packages/*/dist), build/ only at the root, because a nested
// build/ is usually source (pip/_internal/operations/build). And names that generators write.
const OUTPUT_DIRS = new Set(['dist', '__pycache__']);
const ROOT_OUTPUT_DIRS = new Set(['build']);
const GENERATED_SUFFIXES = ['.min.js', '.min.css', '.map', '.pb.go', '.pb.cc', '.pb.h', '_pb2.py', '_pb2_grpc.py', '.g.dart'];

/** Rules decided from the path alone. */
export function skipByName(p: string): Skip | null {
  const base = p.slice(p.lastIndexOf('/') + 1);
  if (LOCK_FILES.has(base)) return { reason: 'lock-file', detail: base };
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
  if (BINARY_EXTENSIONS.has(ext)) return { reason: 'binary', detail: `extension .${ext}` };
  const dirs = p.split('/').slice(0, -1);
  const dir = dirs.find((d) => OUTPUT_DIRS.has(d)) ?? dirs.slice(0, 1).find((d) => ROOT_OUTPUT_DIRS.has(d));
  if (dir !== undefined) return { reason: 'generated', detail: `in a ${dir}/ folder` };
  const suffix = GENERATED_SUFFIXES.find((s) => base.endsWith(s));
  if (suffix !== undefined) return { reason: 'generated', detail: `name ends with ${suffix}` };
  return null;
}

/** Rules decided from the bytes; on success returns the text (a BOM is kept, so the text round-trips to the same bytes). */
export function decodeText(bytes: Uint8Array): { text: string } | Skip {
  const nul = bytes.subarray(0, BINARY_SNIFF_BYTES).indexOf(0);
  if (nul >= 0) return { reason: 'binary', detail: `NUL byte at offset ${nul}` };
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { reason: 'not-utf8', detail: 'not valid UTF-8' };
  }
  const lines = text.split('\n', MARKER_LINES);
  const line = lines.findIndex((l) => COMMENT_LINE.test(l) && GENERATED_MARKER.test(l));
  if (line >= 0) return { reason: 'generated', detail: `marker "${GENERATED_MARKER.exec(lines[line])![0]}" in line ${line + 1}` };
  return { text };
}
