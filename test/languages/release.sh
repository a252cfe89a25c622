#!/usr/bin/env bash
# The release as `npx projen release` makes it, up to the packages: in a throwaway clone of this
# commit, tagged v0.1.0, a `feat` and a `fix` commit on top. `projen bump` must derive the next
# version from those conventional commits (0.x: both give a patch release, 0.1.1), write the
# changelog with both entries under their headings, and `projen unbump` must restore 0.0.0 with
# the work tree clean again (the release task fails on any diff). Publishing itself needs the
# registries' credentials and runs only in the GitHub release workflow (.github/workflows/release.yml).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/release-check-XXXXXX)"
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/repo"
cd "$work/repo"
git checkout -q "$(git -C "$root" rev-parse HEAD)"
ln -s "$root/node_modules" node_modules
commit() { git -c user.name=release-check -c user.email=release-check@example.com commit -q --allow-empty -m "$1"; }
git tag v0.1.0
commit 'feat(languages): a Python, a Java and a Go package'
commit 'fix: a renewed certificate is loaded'
commit 'docs: not a releasable change by itself'
npx projen bump > bump.log 2>&1 || { cat bump.log >&2; exit 1; }
fail() { echo "release check: $*" >&2; exit 1; }
[ "$(cat dist/version.txt)" = 0.1.1 ] || fail "bump gave version '$(cat dist/version.txt)', expected 0.1.1"
[ "$(cat dist/releasetag.txt)" = v0.1.1 ] || fail "bump gave tag '$(cat dist/releasetag.txt)', expected v0.1.1"
[ "$(node -p "require('./package.json').version")" = 0.1.1 ] || fail "package.json was not bumped to 0.1.1"
grep -q '^### Features' dist/changelog.md || fail "the changelog has no Features heading"
grep -q '^\* \*\*languages:\*\* a Python, a Java and a Go package' dist/changelog.md || fail "the changelog misses the feat commit"
grep -q '^### Bug Fixes' dist/changelog.md || fail "the changelog has no Bug Fixes heading"
grep -q '^\* a renewed certificate is loaded' dist/changelog.md || fail "the changelog misses the fix commit"
npx projen unbump > unbump.log 2>&1 || { cat unbump.log >&2; exit 1; }
[ "$(node -p "require('./package.json').version")" = 0.0.0 ] || fail "unbump did not restore 0.0.0"
git diff --ignore-space-at-eol --exit-code >/dev/null || fail "the work tree is not clean after unbump: $(git diff --stat)"
echo "release check: bump 0.1.0 -> 0.1.1 from a feat and a fix commit, changelog with both, unbump back to 0.0.0"
