#!/usr/bin/env bash
# Runs CI as CI does: a fresh clone of the committed HEAD beside this checkout (so ../shared resolves the same),
# then .ci/run with CI=true. Uncommitted changes are not part of the run.
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
target="$(dirname "$repo")/ci-check"
rm -rf "$target"
git clone -q "$repo" "$target"
cd "$target"
CI=true bash .ci/run
