// The chat webview's HTML document. The extension fills in the URIs from `webview.asWebviewUri`
// and `webview.cspSource`, and a fresh nonce per document.
//
// The Content-Security-Policy is the second wall behind render.ts: the only script that runs is
// the one carrying the nonce (no inline scripts, no eval), styles and fonts come only from the
// extension's files (no inline styles, which rules out `style=` attributes too), images only from
// the extension or data: URIs, and nothing at all from the network.

export interface ChatAssets {
  /** `webview.cspSource`. */
  cspSource: string;
  nonce: string;
  /** media/chat.js */
  scriptUri: string;
  /** media/chat.css */
  styleUri: string;
  /** media/codicon.css (it loads codicon.ttf from next to itself). */
  codiconUri: string;
}

/** 128 random bits, hex: a CSP nonce. */
export function makeNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    `default-src 'none'`,
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    // Not covered by default-src: no <base> rewriting relative URLs, no form submission.
    `base-uri 'none'`,
    `form-action 'none'`,
  ].join('; ');
}

const attr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// The examples are generic on purpose: they make sense for any repository.
const EXAMPLES = [
  'Give me an overview of this repository: what it does and how it is laid out.',
  'Where does execution start, and what happens on startup?',
  'Which files would I change to add a new setting?',
];

export function chatHtml(a: ChatAssets): string {
  const examples = EXAMPLES.map((q) => `<li><button type="button" class="example" data-ask="${attr(q)}">${attr(q)}</button></li>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(a.cspSource, a.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(a.codiconUri)}">
<link rel="stylesheet" href="${attr(a.styleUri)}">
<title>repozip</title>
</head>
<body>
<header class="toolbar">
  <div id="cache" class="cache-state">
    <span id="cache-icon" class="codicon codicon-database" aria-hidden="true"></span>
    <span id="cache-label" class="cache-label">Connecting…</span>
    <span id="cache-detail" class="cache-detail"></span>
    <progress id="cache-progress" max="1" hidden aria-label="Cache build progress"></progress>
  </div>
  <button id="build" type="button" class="text-button" hidden>Build</button>
  <button id="new-chat" type="button" class="icon-button" title="New chat" aria-label="New chat"><span class="codicon codicon-add" aria-hidden="true"></span></button>
</header>
<main id="transcript" class="transcript" aria-label="Conversation">
  <section id="empty" class="empty-state">
    <h2>Ask about this repository</h2>
    <p>Answers come from the whole repository, read once by the local model and kept as a compressed cache.</p>
    <ul class="examples">${examples}</ul>
  </section>
</main>
<div id="announcer" class="sr-only" aria-live="polite"></div>
<footer class="composer">
  <textarea id="input" rows="1" aria-label="Question about this repository" placeholder="Ask about this repository" aria-description="Enter sends, Shift+Enter starts a new line, Up recalls the last question, Escape stops an answer."></textarea>
  <button id="send" type="button" class="icon-button send" title="Send" aria-label="Send"><span class="codicon codicon-send" aria-hidden="true"></span></button>
</footer>
<script nonce="${attr(a.nonce)}" src="${attr(a.scriptUri)}"></script>
</body>
</html>
`;
}
