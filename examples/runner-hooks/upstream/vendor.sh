#!/usr/bin/env bash
# (Re)creates the vendored copy of actions/runner-container-hooks that run.sh uses, so that run.sh
# (and CI) needs neither GitHub nor a local mirror. Only this script fetches their repository.
#   vendor.sh [COMMIT]   env: HOOKS_MIRROR (a git dir or URL of their repository; default the local
#                        mirror /work/.mirror/actions+runner-container-hooks/repo if present, else GitHub)
# COMMIT defaults to the one in vendor/pin. It writes:
#   vendor/runner-container-hooks.tar.gz  `git archive` of the commit (prefix runner-container-hooks/,
#                                         gzip -9n: no name or time in the gzip header)
#   vendor/LICENSE                        their LICENSE (MIT) at that commit
#   vendor/pin                            commit, its tree id, the tarball's SHA-256 (run.sh checks both)
# To move to another commit of their main: vendor.sh <commit>, then re-check adopt-k8sretry.patch
# (run.sh applies it with --whitespace=error and fails if it does not apply) and commit the three files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vendor=$here/vendor
. "$vendor/pin"
commit=${1:-$commit}
[[ $commit =~ ^[0-9a-f]{40}$ ]] || { echo "vendor.sh: a full 40-hex commit id, not: $commit" >&2; exit 2; }
src=${HOOKS_MIRROR:-/work/.mirror/actions+runner-container-hooks/repo}
[ -d "$src" ] || src=https://github.com/actions/runner-container-hooks.git
scratch=$(mktemp -d /tmp/k8sretry-vendor.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
echo "[vendor] $commit from $src"
git init -q --bare "$scratch/repo.git"
git -C "$scratch/repo.git" fetch -q --depth 1 "$src" "$commit"
[ "$(git -C "$scratch/repo.git" rev-parse FETCH_HEAD)" = "$commit" ]
tree_id=$(git -C "$scratch/repo.git" rev-parse "$commit^{tree}")
git -C "$scratch/repo.git" archive --format=tar --prefix=runner-container-hooks/ "$commit" | gzip -9n > "$scratch/t.tar.gz"
git -C "$scratch/repo.git" show "$commit:LICENSE" > "$scratch/LICENSE"
head -1 "$scratch/LICENSE" | grep -qx 'MIT License' || { echo "vendor.sh: their LICENSE is no longer MIT: check it" >&2; exit 1; }
sha=$(sha256sum "$scratch/t.tar.gz" | cut -d' ' -f1)
date=$(git -C "$scratch/repo.git" log -1 --format=%cs "$commit")
subject=$(git -C "$scratch/repo.git" log -1 --format=%s "$commit")
mv "$scratch/t.tar.gz" "$vendor/runner-container-hooks.tar.gz"
mv "$scratch/LICENSE" "$vendor/LICENSE"
cat > "$vendor/pin" <<EOF
# actions/runner-container-hooks, vendored by ../vendor.sh (sourced by ../run.sh and ../vendor.sh).
# their main (committed $date): "$subject"
commit=$commit
# the commit's tree: run.sh checks the unpacked files hash to it (git write-tree)
tree_id=$tree_id
# SHA-256 of runner-container-hooks.tar.gz
sha256=$sha
EOF
echo "[vendor] vendor/runner-container-hooks.tar.gz: $(stat -c %s "$vendor/runner-container-hooks.tar.gz") bytes, sha256 $sha, tree $tree_id"
