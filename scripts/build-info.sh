#!/usr/bin/env bash
# Writes BINARY.build-info beside a freshly built binary: the git commit it was built from, with
# "+dirty" when the tree had uncommitted changes. pipe records it with every run; a build-info file
# older than its binary (a later `swift build` without make) is ignored.
#   scripts/build-info.sh .build/release/pipe
set -euo pipefail
binary=${1:?usage: scripts/build-info.sh BINARY}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit+dirty"
fi
echo "commit $commit" > "$binary.build-info"
