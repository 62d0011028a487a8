/**
 * The bubblewrap sandbox and the idle-priority wrappers of a build.
 *
 * bwrap runs with every namespace unshared (`--unshare-all`: user, ipc, pid, net, uts, cgroup — the network
 * namespace has only a loopback interface), `--disable-userns` (no nested user namespaces), uid/gid 65534,
 * `--cap-drop ALL`, `--die-with-parent`, `--new-session`. The host's /usr and /etc are bound read-only (with
 * /bin, /sbin, /lib* as on the host), and nothing else of the host: the build's writable tree /build is a
 * tmpfs capped at maxDiskBytes (bwrap copies the SRPM into it from an open file descriptor), /tmp and
 * /var/tmp are capped tmpfs, /dev is read-only but for a capped /dev/shm, and the root is read-only. No
 * host directory is writable by the build, so nothing it leaves can be on the host; the outputs leave as a
 * stream (output-stream.ts).
 */
import { spawn } from 'node:child_process'
import { accessSync, constants as fsConstants, lstatSync, readFileSync, readlinkSync } from 'node:fs'
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import {
  BUILD_GID, BUILD_LANG, BUILD_PATH, BUILD_TZ, BUILD_UID, NICE_LEVEL, PROBE_TIMEOUT_MS, SANDBOX_HOME, SANDBOX_INPUT, SANDBOX_TOPDIR,
  SANDBOX_WORK, SRPM_FD
} from './constants.ts'
import type { IsolationReport, PriorityReport } from './types.ts'

/** Absolute path of a command in the build PATH, or undefined */
export function findTool (name: string): string | undefined {
  for (const dir of BUILD_PATH.split(':')) {
    const p = join(dir, name)
    try {
      accessSync(p, fsConstants.X_OK)
      return p
    } catch {}
  }
  return undefined
}

export interface ExecResult { code: number | null, stdout: string, stderr: string }

/** Runs a small probe command with the build environment and a timeout; `inputFd` becomes its fd 3 */
export async function execProbe (file: string, args: readonly string[], env: Record<string, string> = baseEnv(), inputFd?: number): Promise<ExecResult> {
  return new Promise(resolve => {
    const child = spawn(file, args, { env, timeout: PROBE_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe', inputFd ?? 'ignore'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on('data', (b: Buffer) => out.push(b))
    child.stderr?.on('data', (b: Buffer) => err.push(b))
    child.once('error', e => resolve({ code: null, stdout: '', stderr: e.message }))
    child.once('close', code => {
      const stderr = Buffer.concat(err).toString('utf8')
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: stderr !== '' ? stderr : (code === 0 ? '' : `exit ${code}`) })
    })
  })
}

/** The fixed environment of build processes; `HOME` is the sandbox's unless given */
export function baseEnv (home = SANDBOX_HOME): Record<string, string> {
  return { PATH: BUILD_PATH, HOME: home, LANG: BUILD_LANG, TZ: BUILD_TZ }
}

export interface PriorityPlan {
  /** argv prefix: nice, ionice, chrt as available */
  prefix: string[]
  report: PriorityReport
  warnings: string[]
}

/** `nice -n 19`, then `ionice -c 3` and `chrt --idle 0` when util-linux provides them */
export function priorityPlan (): PriorityPlan {
  const warnings: string[] = []
  const prefix: string[] = []
  const report: PriorityReport = { nice: 0 }
  const nice = findTool('nice')
  if (nice !== undefined) {
    prefix.push(nice, '-n', String(NICE_LEVEL))
    report.nice = NICE_LEVEL
  } else {
    warnings.push('nice not found: builds run at normal priority')
  }
  const ionice = findTool('ionice')
  if (ionice !== undefined) {
    prefix.push(ionice, '-c', '3')
    report.ioClass = 'idle'
  } else {
    warnings.push('ionice (util-linux) not found: builds keep the default I/O class')
  }
  const chrt = findTool('chrt')
  if (chrt !== undefined) {
    prefix.push(chrt, '--idle', '0')
    report.schedPolicy = 'SCHED_IDLE'
  } else {
    warnings.push('chrt (util-linux) not found: builds are not SCHED_IDLE')
  }
  return { prefix, report, warnings }
}

/** Feature switches of the bwrap command line, found by probing */
export interface BwrapFeatures {
  /** `--disable-userns` (bubblewrap >= 0.8) */
  disableUserns: boolean
}

export interface SandboxArgsOptions {
  bwrap: string
  features: BwrapFeatures
  /** Size of the build's writable tree, the tmpfs at /build (maxDiskBytes) */
  treeBytes: number
  /** Size of each of /tmp and /var/tmp */
  tmpfsBytes: number
  /** Size of /dev/shm */
  shmBytes: number
  /** File name the SRPM gets in /build/input; bwrap reads it from fd SRPM_FD */
  srpmName: string
  /** Environment inside the sandbox */
  env: Record<string, string>
  /**
   * A materialised buildroot (buildroot.ts) as the sandbox's `/`, read-only: its directory, and the host
   * paths bound over it read-only where it lacks them. Without it, the host's SYSTEM_DIRS are bound.
   */
  root?: { path: string, binds: readonly string[] }
}

/** System directories bound read-only, or re-created as the same symlinks (merged /usr) */
const SYSTEM_DIRS = ['/usr', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']

/** bwrap's arguments up to and including `--`; the command follows. `--size` needs bubblewrap 0.8. */
export function bwrapArgs (opts: SandboxArgsOptions): string[] {
  const args = [opts.bwrap, '--unshare-all', '--unshare-user']
  if (opts.features.disableUserns) args.push('--disable-userns')
  args.push('--uid', String(BUILD_UID), '--gid', String(BUILD_GID), '--hostname', 'reproducible',
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL')
  if (opts.root !== undefined) {
    args.push('--ro-bind', opts.root.path, '/')
    for (const path of opts.root.binds) args.push('--ro-bind', path, path)
  }
  for (const dir of opts.root !== undefined ? [] : SYSTEM_DIRS) {
    let st
    try {
      st = lstatSync(dir)
    } catch {
      continue
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir)
    else if (st.isDirectory()) args.push('--ro-bind', dir, dir)
  }
  // /dev: bwrap's device nodes on a tmpfs that is then made read-only; only /dev/shm is writable, capped
  args.push('--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--size', String(opts.shmBytes), '--tmpfs', '/dev/shm', '--remount-ro', '/dev')
  for (const tmp of ['/tmp', '/var/tmp']) args.push('--perms', '1777', '--size', String(opts.tmpfsBytes), '--tmpfs', tmp)
  args.push('--size', String(opts.treeBytes), '--tmpfs', SANDBOX_WORK)
  for (const dir of [SANDBOX_INPUT, SANDBOX_HOME, SANDBOX_TOPDIR]) args.push('--dir', dir)
  args.push('--perms', '0644', '--file', String(SRPM_FD), `${SANDBOX_INPUT}/${opts.srpmName}`)
  args.push('--remount-ro', '/', '--chdir', SANDBOX_WORK, '--clearenv')
  for (const [k, v] of Object.entries(opts.env)) args.push('--setenv', k, v)
  args.push('--')
  return args
}

/**
 * A warning when the sandbox's tmpfs together (the tree, /tmp, /var/tmp, /dev/shm) could hold more than the
 * machine's memory and swap (/proc/meminfo): a build that fills them would push the host to the OOM killer.
 */
export function memoryWarning (tmpfsTotalBytes: number, meminfo = '/proc/meminfo'): string | undefined {
  let text
  try {
    text = readFileSync(meminfo, 'utf8')
  } catch {
    return undefined
  }
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0)
  const room = (kib('MemTotal') + kib('SwapTotal')) * 1024
  if (room === 0 || tmpfsTotalBytes <= room) return undefined
  const gib = (n: number): string => `${(n / 1024 ** 3).toFixed(1)} GiB`
  return `a build's tmpfs (its tree of maxDiskBytes, /tmp, /var/tmp, /dev/shm) may hold ${gib(tmpfsTotalBytes)}, more than this machine's ${gib(room)} of memory and swap: lower maxDiskBytes or add swap`
}

/** How the build's uid is reached on this host */
export interface UidPlan {
  /** argv prefix (setpriv) when the node runs as root */
  prefix: string[]
  mode: IsolationReport['uidMode']
  /** The host uid/gid that must own an unsandboxed build's tree, when it is not the node's own */
  chownTo?: { uid: number, gid: number }
}

/**
 * As root, the build drops to uid/gid 65534 on the host (setpriv) before bwrap, so that nothing readable
 * only by root (/etc/shadow, host keys, the node's key) is readable in the sandbox: a user namespace made by
 * root maps the sandbox's uid to root. Otherwise the node's own uid, mapped to 65534 inside.
 */
export function uidPlan (sandboxed: boolean): UidPlan & { warnings: string[] } {
  const uid = process.getuid?.() ?? -1
  if (uid !== 0) return { prefix: [], mode: sandboxed ? 'userns-mapped' : 'self', warnings: [] }
  const setpriv = findTool('setpriv')
  if (setpriv === undefined) {
    return {
      prefix: [],
      mode: sandboxed ? 'userns-mapped' : 'self',
      warnings: ['running as root without setpriv (util-linux): the sandbox uid maps to host root, which can read root-only files bound into the sandbox']
    }
  }
  return {
    prefix: [setpriv, `--reuid=${BUILD_UID}`, `--regid=${BUILD_GID}`, '--clear-groups'],
    mode: 'host-drop',
    chownTo: { uid: BUILD_UID, gid: BUILD_GID },
    warnings: []
  }
}

/**
 * Why uid `uid` cannot reach `dir` (every parent must be searchable by it), or undefined when it can: an
 * unsandboxed build as root runs as that uid in a tree on the host.
 */
export async function unreachableFor (dir: string, uid: number, gid: number): Promise<string | undefined> {
  let d = dirname(resolve(dir))
  for (;;) {
    const st = await stat(d)
    const bit = st.uid === uid ? 0o100 : st.gid === gid ? 0o010 : 0o001
    if ((st.mode & bit) === 0) return `${d} is not searchable by uid ${uid} (mode ${(st.mode & 0o777).toString(8)}): chmod o+x it, or put the work directory elsewhere`
    const parent = dirname(d)
    if (parent === d) return undefined
    d = parent
  }
}

/**
 * Tries the exact sandbox of a build (a shell that checks its SRPM copy instead of rpmbuild), first with
 * every feature, then without the optional one. Returns the features that work, or why the sandbox
 * cannot run here.
 */
export async function probeSandbox (bwrap: string, uid: UidPlan): Promise<{ features?: BwrapFeatures, reason?: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'skyline-bwrap-probe-'))
  const srpm = join(dir, 'probe.src.rpm')
  await writeFile(srpm, 'probe')
  const input = await open(srpm, 'r')
  try {
    let last = ''
    for (const features of [{ disableUserns: true }, { disableUserns: false }]) {
      const argv = [...uid.prefix, ...bwrapArgs({ bwrap, features, treeBytes: 1024 * 1024, tmpfsBytes: 1024 * 1024, shmBytes: 1024 * 1024, srpmName: 'probe.src.rpm', env: baseEnv() }),
        '/bin/sh', '-c', `test "$(cat ${SANDBOX_INPUT}/probe.src.rpm)" = probe && touch ${SANDBOX_TOPDIR}/ok`]
      const r = await execProbe(argv[0], argv.slice(1), baseEnv(), input.fd)
      if (r.code === 0) return { features }
      last = r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`
    }
    return { reason: `bubblewrap cannot set up the sandbox: ${last} (bubblewrap 0.8 or newer is needed for --size; are unprivileged user namespaces enabled? sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone)` }
  } finally {
    await input.close()
    await rm(dir, { recursive: true, force: true })
  }
}
