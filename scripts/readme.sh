#!/usr/bin/env bash
# README.md is assembled from one Markdown file per capability in docs/readme/; its table of
# contents (at the `<!-- contents -->` line of intro.md) is generated from the headings.
set -euo pipefail
cd "$(dirname "$0")/.."
parts=(intro migrating troubleshooting core attack-suite redis mcp benchmarks layout)
{
  for part in "${parts[@]}"; do
    [ -f "docs/readme/$part.md" ] || continue
    cat "docs/readme/$part.md"
    echo
  done
} | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' | node scripts/readme-contents.mjs > README.md.tmp
mv README.md.tmp README.md
