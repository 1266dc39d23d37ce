#!/usr/bin/env bash
# README.md is assembled from one Markdown file per capability in docs/readme/.
set -euo pipefail
cd "$(dirname "$0")/.."
parts=(core pages attack-suite redis mcp benchmarks layout)
{
  for part in "${parts[@]}"; do
    [ -f "docs/readme/$part.md" ] || continue
    cat "docs/readme/$part.md"
    echo
  done
} | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' > README.md
