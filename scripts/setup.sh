#!/usr/bin/env bash
# One-time set-up on a fresh Debian or Fedora machine: the system tools Skyline uses (rpm, rpmbuild,
# createrepo_c, bubblewrap, gnupg; dnf and chromium for the tests) and the npm dependencies, including
# the pinned Node 24.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
command -v rpmbuild >/dev/null || need+=(rpm)
command -v rpmkeys >/dev/null || need+=(rpm)
command -v createrepo_c >/dev/null || need+=(createrepo-c)
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v gpg >/dev/null || need+=(gnupg)
# the tests: dnf reads the repository 'skyline fetch' writes; chromium renders the dashboard
command -v dnf >/dev/null || need+=(dnf)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null; then
    echo "setup: installing $pkgs(apt)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  elif command -v dnf >/dev/null; then
    pkgs=${pkgs//createrepo-c/createrepo_c}
    pkgs=${pkgs//rpm /rpm-build rpm-sign }
    echo "setup: installing $pkgs(dnf)"
    $sudo dnf install -y -q $pkgs
  else
    echo "setup: please install: $pkgs" >&2
  fi
fi
echo "setup: npm ci"
npm ci --no-fund --no-audit --loglevel=error
echo "setup: npm run build"
npm run build --silent
echo "setup: done (node $(./node_modules/.bin/node --version) for npm scripts)"
