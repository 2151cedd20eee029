#!/usr/bin/env bash
# `make demo`: the main job on the embedded local-directory target.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== artreg lint (the repository's own artreg.toml)"
artreg lint

echo
echo "== artreg classify: Garage's real tags"
grep -v '^#' tests/fixtures/garage-tags.txt | xargs artreg classify \
  || echo "(invalid tags above are refused, with a suggestion)"

echo
echo "== artreg docs --check docs/TAGGING.md"
artreg docs --output docs/TAGGING.md --check && echo "docs/TAGGING.md is up to date"
