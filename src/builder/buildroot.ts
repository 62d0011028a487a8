/**
 * A job's buildroot, materialised: exactly the manifest's packages (each checked against its sigmd5 and
 * content sha256 first) installed by `rpm --root` into a directory of the build's own, with its own rpm
 * database. The sandbox binds that directory read-only as its `/` (docs/build.md, "Buildroots"); where the
 * buildroot has no file at a path the host has under /usr, /etc, /bin, /sbin, /lib* (a buildroot that brings
 * no toolchain of its own), the host's is bound there read-only. The host's rpm database is never read.
 */
import { chmod, lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { packageNevra, SIGNATURE_ALLOWANCE } from '../rules/buildroot.ts'
// not the rpm/index.ts barrel: that loads OpenPGP.js (a few MB), which only a node with a keyring needs
import { packageIdentity } from '../rpm/package-digest.ts'
import { BuildrootUnavailableError } from './errors.ts'
import { execProbe } from './sandbox.ts'
import type { BuildrootInput } from './types.ts'

/** The rpm database of a materialised buildroot, inside it (Fedora's own path) */
export const BUILDROOT_DBPATH = '/usr/lib/sysimage/rpm'

/** Host directories whose entries fill in what a buildroot lacks */
export const HOST_FILL_DIRS = ['/usr', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']

/** Directories the sandbox mounts its own file systems on; made in the root before the build */
const MOUNT_POINTS = ['/proc', '/dev', '/tmp', '/var/tmp', '/build']

/**
 * Checks every package file against the manifest: present, the same name, epoch, version, release and arch,
 * sigmd5 (as the signature header says and as the bytes give), content sha256, and no larger than the
 * recorded size plus a signature. Returns the paths, in manifest order; throws BuildrootUnavailableError.
 */
export async function checkPackages (input: BuildrootInput, signal?: AbortSignal): Promise<string[]> {
  const paths: string[] = []
  for (const p of input.manifest.packages) {
    const nevra = packageNevra(p)
    const path = input.packages.get(p.sha256)
    if (path === undefined) throw new BuildrootUnavailableError(`buildroot package missing: ${nevra} (sha256 ${p.sha256.slice(0, 16)}…)`)
    let id
    try {
      id = await packageIdentity(path, { signal })
    } catch (err: any) {
      throw new BuildrootUnavailableError(`buildroot mismatch: ${nevra}: not a readable binary package (${err.message})`)
    }
    const got = packageNevra(id)
    if (got !== nevra) throw new BuildrootUnavailableError(`buildroot mismatch: ${nevra} wanted, the file is ${got}`)
    if (id.sigmd5 !== p.sigmd5 || id.contentMd5 !== p.sigmd5) throw new BuildrootUnavailableError(`buildroot mismatch: ${nevra}: sigmd5 ${id.contentMd5} (header says ${id.sigmd5}), the manifest says ${p.sigmd5}`)
    if (id.sha256 !== p.sha256) throw new BuildrootUnavailableError(`buildroot mismatch: ${nevra}: content sha256 ${id.sha256}, the manifest says ${p.sha256}`)
    if (id.size > p.size + SIGNATURE_ALLOWANCE) throw new BuildrootUnavailableError(`buildroot mismatch: ${nevra}: ${id.size} bytes, recorded as ${p.size}`)
    paths.push(path)
  }
  return paths
}

/**
 * A fresh directory for a buildroot, `<tmpdir>/skyline-buildroot-XXXXXX/root` (mkdtemp, then 0755): the
 * sandbox's uid (65534 on the host when the node is root) must reach it, which the node's 0700 work
 * directories do not allow. It holds only the manifest's packages, readable by anyone, written by the node.
 */
export async function makeRootDir (): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'skyline-buildroot-'))
  await chmod(parent, 0o755)
  return join(parent, 'root')
}

/**
 * Removes a root made by makeRootDir, with its parent; never follows links. A root installed without root
 * keeps the packages' read-only directory modes (Fedora's /usr/lib is 0555), which the owner must lift first.
 */
export async function removeRoot (root: string): Promise<void> {
  if ((process.getuid?.() ?? -1) !== 0) await execProbe('chmod', ['-R', 'u+rwX', dirname(root)]).catch(() => {})
  await rm(dirname(root), { recursive: true, force: true }).catch(() => {})
}

/**
 * Installs the checked packages into `root` (which must not exist) in one rpm transaction with its own
 * database: rpm resolves their dependencies among themselves only, so a set that is not complete fails
 * here with rpm's reason. rpm sets file owners and runs scriptlets chrooted: as root it runs as it is;
 * otherwise inside a user namespace of its own that maps the node's uid to 0 (`unshare --user
 * --map-root-user`), where it may chown to 0 and chroot. Files then belong to the node's uid on the host; a
 * package with files owned by any other user or group cannot be installed that way (no other id is
 * mapped) and the job is declined with rpm's reason.
 */
export async function installBuildroot (rpm: string, root: string, paths: readonly string[]): Promise<void> {
  const prefix = (process.getuid?.() ?? -1) === 0 ? [] : USERNS_PREFIX
  await mkdir(root, { mode: 0o755 })
  const run = async (args: string[]): Promise<{ code: number | null, stderr: string }> => prefix.length === 0
    ? execProbe(rpm, args)
    : execProbe(prefix[0], [...prefix.slice(1), rpm, ...args])
  const common = ['--root', root, '--define', `_dbpath ${BUILDROOT_DBPATH}`, '--define', '_pkgverify_level digest']
  const r = await run([...common, '--initdb'])
  if (r.code !== 0) throw new BuildrootUnavailableError(`buildroot cannot be materialised: ${prefix.length > 0 ? 'in a user namespace (unshare --user --map-root-user): ' : ''}rpm --initdb: ${r.stderr.trim().split('\n').pop() ?? ''}`)
  const i = await run([...common, '-i', '--nosignature', ...paths])
  if (i.code !== 0) throw new BuildrootUnavailableError(`buildroot mismatch: the manifest's packages do not install together${prefix.length > 0 ? ' (in a user namespace mapping only the node\'s uid to 0)' : ''}: ${i.stderr.trim().split('\n').slice(-3).join('; ')}`)
}

/** How a node that is not root runs rpm --root: util-linux's unshare, the node's uid mapped to 0 */
export const USERNS_PREFIX = ['unshare', '--user', '--map-root-user']

/**
 * Prepares `root` to be the sandbox's `/`: the mount points of the sandbox's own file systems, and, for
 * every host path under HOST_FILL_DIRS that the buildroot lacks, an empty mount point (or the same symlink)
 * in the root. Returns the host paths to bind read-only at the same place. Only the node writes in the
 * root; the sandbox sees it read-only.
 */
export async function prepareRoot (root: string): Promise<string[]> {
  for (const d of MOUNT_POINTS) await mkdir(join(root, d), { recursive: true, mode: 0o755 })
  const binds: string[] = []
  for (const d of HOST_FILL_DIRS) await fill(d, root, binds)
  return binds
}

async function lstatOrUndefined (path: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  try {
    return await lstat(path)
  } catch {
    return undefined
  }
}

/** Fills `root + hostPath` from the host: what the root lacks is bound (or linked); shared directories are merged entry by entry */
async function fill (hostPath: string, root: string, binds: string[]): Promise<void> {
  const host = await lstatOrUndefined(hostPath)
  if (host === undefined) return
  const mine = join(root, hostPath)
  const there = await lstatOrUndefined(mine)
  if (there === undefined) {
    if (host.isSymbolicLink()) {
      await symlink(await readlink(hostPath), mine)
    } else if (host.isDirectory()) {
      await mkdir(mine, { mode: 0o755 })
      binds.push(hostPath)
    } else if (host.isFile()) {
      await writeFile(mine, '', { mode: 0o644 })
      binds.push(hostPath)
    }
    return
  }
  // the buildroot's own file, link or directory wins; only two directories merge
  if (!there.isDirectory() || there.isSymbolicLink() || !host.isDirectory()) return
  for (const entry of await readdir(hostPath)) await fill(join(hostPath, entry), root, binds)
}
