#!/usr/bin/env bash
# `make demo`: the main job on the embedded local-directory target.
#
# Lints artreg.toml, classifies Garage's real tags, checks docs/TAGGING.md,
# then builds small sample artifacts under demo-build/ and publishes a
# release, an extra and a dev build to the `local` dir target (public/).
# Re-runnable: the generated files are the same every time, so a second run
# publishes nothing (a release's content can never change once published).
set -euo pipefail
cd "$(dirname "$0")/.."

RELEASE=v1.0.0
EXTRA=v1.1.0-rc.1
DEV=0123456789abcdef0123456789abcdef01234567 # a build of an untagged commit: its id
TARGET=local
PUBLIC=public
# How the closing hints name artreg: `make demo` passes .venv/bin/artreg, so they run as printed
# from the repository root even though the venv is not on the reader's PATH.
SHOWN=${ARTREG_DEMO_COMMAND:-artreg}
PORT=${ARTREG_DEMO_PORT:-8000}

echo "== artreg lint (the repository's own artreg.toml)"
artreg lint

echo
echo "== artreg classify: Garage's real tags"
grep -v '^#' tests/fixtures/garage-tags.txt | xargs artreg classify \
  || echo "(invalid tags above are refused, with a suggestion)"

echo
echo "== artreg docs --check docs/TAGGING.md"
artreg docs --output docs/TAGGING.md --check && echo "docs/TAGGING.md is up to date"

# The "binaries" of artreg.toml's [[artifacts]]: tiny shell scripts whose bytes
# depend only on the tag and the platform (deterministic, so re-runs are no-ops).
build() {
  local tag=$1 arch
  for arch in amd64 arm64; do
    mkdir -p "demo-build/$arch"
    printf '#!/bin/sh\necho "hello from artreg-demo %s (linux/%s)"\n' "$tag" "$arch" \
      >"demo-build/$arch/hello"
    chmod +x "demo-build/$arch/hello"
  done
}

publish() {
  local tag=$1
  build "$tag"
  if ! artreg apply --target "$TARGET" --tag "$tag"; then
    echo "demo: publishing $tag to $PUBLIC/ failed (see above). If $PUBLIC/ holds builds" \
      "from an earlier experiment, start afresh with: rm -rf $PUBLIC demo-build" >&2
    exit 1
  fi
}

echo
echo "== artreg apply: a release, an extra and a dev build to $PUBLIC/ (target '$TARGET')"
publish "$RELEASE"
publish "$EXTRA"
publish "$DEV"

echo
echo "== artreg ls"
artreg ls --target "$TARGET"

echo
echo "== browse them (from $(pwd))"
echo "   $SHOWN serve --target $TARGET --port $PORT"
echo "   then open http://127.0.0.1:$PORT/ (index.html for people, index.json for scripts);"
echo "   a download: http://127.0.0.1:$PORT/$RELEASE/linux/amd64/hello"
echo "   Run \`make demo\` again: every build is already published, nothing is written."
