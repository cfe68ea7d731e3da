#!/usr/bin/env bash
# repozip in a REAL VS Code workbench, offline: code-server 4.100.3 (VS Code 1.100.3 on this Node 20)
# driven by Debian's headless Chromium through playwright-core. `npm run test:e2e`.
#
# Steps: apt deps -> code-server (cached in $E2E_HOME/server) -> the linux-x64 VSIX as released
# (tools/package.mjs: builds dist/, then vsce) -> fresh user-data/extensions dirs -> --install-extension -> a fixture
# repository (fixture.mjs) with the bundled tiny model configured -> code-server on 127.0.0.1 ->
# ui.mjs (the user's path: view, palette question, streaming answer, file link, hover, status bar,
# reload) -> ext-tests.mjs (the mocha suite in the extension host) -> stop the server's process group.
# Exit status 0 only if every step passed. Artifacts (screenshots, logs): $OUT.
#
# Knobs: E2E_HOME (caches, default <repo>/.e2e), OUT (default test/e2e/out/<stamp>), SKIP_APT=1,
# E2E_TIMEOUT_MS (per UI wait, default 60000), CHROMIUM (default /usr/bin/chromium).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
E2E_HOME=${E2E_HOME:-$ROOT/.e2e}
CS_VERSION=4.100.3          # last code-server whose engines allow Node 20
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$HERE/out/$STAMP}
RUN=$(mktemp -d -t repozip-e2e.XXXXXX)   # short: Unix socket paths under TMPDIR are limited to 108 bytes
mkdir -p "$OUT" "$E2E_HOME"

t_start=$(date +%s)
say() { printf '[e2e %4ss] %s\n' "$(( $(date +%s) - t_start ))" "$*"; }
die() { say "FAIL: $*"; exit 1; }

SERVER_PGID=""
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PGID" ] && kill -0 -- "-$SERVER_PGID" 2>/dev/null; then
    say "stopping code-server (process group $SERVER_PGID)"
    kill -TERM -- "-$SERVER_PGID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$SERVER_PGID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVER_PGID" 2>/dev/null || true
  fi
  [ -f "$RUN/server.log" ] && cp "$RUN/server.log" "$OUT/server.log" 2>/dev/null || true
  # the repozip output channel (engine stderr included), one file per window that had it
  local n=0 f
  while IFS= read -r f; do n=$((n + 1)); cp "$f" "$OUT/repozip-log-$n.log"; done \
    < <(find "$RUN" -path "$RUN/extensions" -prune -o -name '*repozip*.log' -type f -size +0 -print 2>/dev/null | sort)
  rm -rf "$RUN"
  if [ "$rc" -eq 0 ]; then say "ALL PASSED in $(( $(date +%s) - t_start ))s (artifacts: $OUT)"; else say "FAILED rc=$rc (artifacts: $OUT)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. Debian packages: krb5 headers (code-server's kerberos module), ripgrep (instead of a GitHub download), chromium
if [ "${SKIP_APT:-0}" != 1 ]; then
  need=()
  dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
  command -v rg >/dev/null || need+=(ripgrep)
  command -v chromium >/dev/null || need+=(chromium)
  if [ ${#need[@]} -gt 0 ]; then
    say "apt-get install ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
for b in rg chromium node npm git; do command -v "$b" >/dev/null || die "missing $b"; done

# --- 2. code-server, cached
CS_DIR=$E2E_HOME/server
CS_BIN=$CS_DIR/node_modules/.bin/code-server
if ! [ -x "$CS_BIN" ] || [ "$(node -p "require('$CS_DIR/node_modules/code-server/package.json').version" 2>/dev/null)" != "$CS_VERSION" ] \
   || ! [ -x "$CS_DIR/node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" ]; then
  say "installing code-server@$CS_VERSION"
  # @vscode/ripgrep's postinstall looks in os.tmpdir() before downloading: put Debian's rg there
  "$HERE/seed-ripgrep-cache.sh" 1.15.11
  mkdir -p "$CS_DIR"
  [ -f "$CS_DIR/package.json" ] || echo '{"name":"code-server-host","private":true}' > "$CS_DIR/package.json"
  # unsafe_perm: code-server's postinstall refuses root without it; yes: node-pty runs `npx node-gyp`
  (cd "$CS_DIR" && npm_config_unsafe_perm=true npm_config_yes=true \
     npm install --no-audit --no-fund "code-server@$CS_VERSION" > "$OUT/install-code-server.log" 2>&1) \
     || { tail -30 "$OUT/install-code-server.log"; die "code-server install failed"; }
  say "code-server installed ($(du -sh "$CS_DIR" | cut -f1))"
fi

# --- 3. the project's own tools (devDependencies: @vscode/vsce, playwright-core, mocha, esbuild)
cd "$ROOT"
if ! [ -x node_modules/.bin/vsce ] || ! [ -d node_modules/playwright-core ] || ! [ -d node_modules/mocha ]; then
  say "npm install (devDependencies)"
  npm install --no-audit --no-fund > "$OUT/npm-install.log" 2>&1 || { tail -30 "$OUT/npm-install.log"; die "npm install failed"; }
fi

# --- 4. package: the linux-x64 VSIX exactly as `npm run package` makes it (only onnxruntime-node's linux-x64 binary)
node tools/package.mjs linux-x64 --out "$RUN" > "$OUT/package.log" 2>&1 \
  || { cat "$OUT/package.log"; die "packaging failed"; }
VSIX=$(ls "$RUN"/repozip-linux-x64-*.vsix)
say "packaged $(du -h "$VSIX" | cut -f1)"
# the extension-host suite, bundled next to its runner
SUITE_INDEX=$(node "$HERE/build-suite.mjs")

# --- 5. fresh, isolated VS Code state (nothing written under ~ or the system temp dir)
export XDG_CONFIG_HOME=$RUN/xdg-config XDG_DATA_HOME=$RUN/xdg-data XDG_CACHE_HOME=$RUN/xdg-cache
mkdir -p "$RUN/tmp"; export TMPDIR=$RUN/tmp
UDD=$RUN/user-data EXTS=$RUN/extensions WS=$RUN/calc
mkdir -p "$UDD/User" "$EXTS"
node "$HERE/fixture.mjs" "$WS" >/dev/null
printf 'auth: none\ncert: false\n' > "$RUN/config.yaml"
CS_COMMON=(--config "$RUN/config.yaml" --user-data-dir "$UDD" --extensions-dir "$EXTS")
"$CS_BIN" "${CS_COMMON[@]}" --install-extension "$VSIX" > "$OUT/install-extension.log" 2>&1 \
  || { cat "$OUT/install-extension.log"; die "--install-extension failed"; }
EXT_DIR=$(ls -d "$EXTS"/repozip.repozip-* 2>/dev/null | head -1)
[ -n "$EXT_DIR" ] && [ -f "$EXT_DIR/test/fixtures/tinycode/model.safetensors" ] || die "installed extension or its bundled model not found in $EXTS"
say "installed into $EXT_DIR"

# As a user would set it up: the bundled tiny model on the CPU, a small context and short answers.
# REPOZIP_TEST_HOOKS (below) enables repozip._test.scriptAnswer, bound to a key here: the tiny model
# never names a file, so the file-link step asks a question whose answer is scripted.
cat > "$UDD/User/settings.json" <<EOF
{
  "workbench.startupEditor": "none",
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "workbench.tips.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "workbench.enableExperiments": false,
  "security.workspace.trust.enabled": false,
  "git.openRepositoryInParentFolders": "never",
  "editor.hover.delay": 200,
  "repozip.model": "$EXT_DIR/test/fixtures/tinycode",
  "repozip.device": "cpu",
  "repozip.maxAnswerTokens": 160,
  "repozip.ratio": 0.5
}
EOF
cat > "$UDD/User/keybindings.json" <<'EOF'
[{ "key": "ctrl+alt+shift+f9", "command": "repozip._test.scriptAnswer", "args": "The sum comes from `add` in src/math.ts:2; src/main.ts calls it." }]
EOF

# --- 6. code-server on loopback, in its own process group (its children outlive a plain kill)
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
ORIGIN=http://127.0.0.1:$PORT
REPOZIP_TEST_HOOKS=1 setsid "$CS_BIN" "${CS_COMMON[@]}" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry \
  --disable-update-check --disable-workspace-trust --disable-getting-started-override "$WS" \
  > "$RUN/server.log" 2>&1 < /dev/null &
SERVER_PGID=$!
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "$ORIGIN/healthz" 2>/dev/null && break
  kill -0 "$SERVER_PGID" 2>/dev/null || { cat "$RUN/server.log"; die "code-server exited"; }
  sleep 0.1
done
curl -fsS -o /dev/null "$ORIGIN/healthz" || die "code-server not ready on $ORIGIN"
say "code-server up on $ORIGIN"

# --- 7. the user's path through the UI, with screenshots
node "$HERE/ui.mjs" "$ORIGIN/?folder=$WS" "$OUT" "$WS" || die "UI test"
say "UI test passed"

# --- 8. the mocha suite inside the extension host (the source folder as extensionDevelopmentPath)
node "$HERE/ext-tests.mjs" "$ORIGIN" "$WS" "$ROOT" "$SUITE_INDEX" "$OUT" || die "extension-host suite"
say "extension-host suite passed"
