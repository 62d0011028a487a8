/**
 * The bubblewrap sandbox and the idle-priority wrappers of a build.
 *
 * bwrap runs with every namespace unshared (`--unshare-all`: user, ipc, pid, net, uts, cgroup — the network
 * namespace has only a loopback interface), `--disable-userns` (no nested user namespaces), uid/gid 65534,
 * `--cap-drop ALL`, `--die-with-parent`, `--new-session`. The host's /usr and /etc are bound read-only (with
 * /bin, /sbin, /lib* as on the host), the work directory read-write at /build, /tmp and /var/tmp are tmpfs,
 * and the root is remounted read-only. Nothing else of the host (homes, /var, /run, /root, the node's data
 * directory) is visible.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants as fsConstants, lstatSync, readlinkSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { BUILD_GID, BUILD_LANG, BUILD_PATH, BUILD_TZ, BUILD_UID, NICE_LEVEL, PROBE_TIMEOUT_MS, SANDBOX_HOME, SANDBOX_WORK } from './constants.ts'
import type { IsolationReport, PriorityReport } from './index.ts'

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

/** Runs a small probe command with the build environment and a timeout */
export async function execProbe (file: string, args: readonly string[], env: Record<string, string> = baseEnv()): Promise<ExecResult> {
  return new Promise(resolve => {
    execFile(file, args, { env, timeout: PROBE_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err == null ? 0 : (typeof (err as any).code === 'number' ? (err as any).code : null)
      resolve({ code, stdout, stderr: stderr !== '' ? stderr : (err?.message ?? '') })
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
  /** `--size` for tmpfs (bubblewrap >= 0.8) */
  tmpfsSize: boolean
}

export interface SandboxArgsOptions {
  bwrap: string
  /** Host directory bound read-write at /build */
  workDir: string
  features: BwrapFeatures
  tmpfsBytes: number
  /** Environment inside the sandbox */
  env: Record<string, string>
}

/** System directories bound read-only, or re-created as the same symlinks (merged /usr) */
const SYSTEM_DIRS = ['/usr', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']

/** bwrap's arguments up to and including `--`; the command follows */
export function bwrapArgs (opts: SandboxArgsOptions): string[] {
  const args = [opts.bwrap, '--unshare-all', '--unshare-user']
  if (opts.features.disableUserns) args.push('--disable-userns')
  args.push('--uid', String(BUILD_UID), '--gid', String(BUILD_GID), '--hostname', 'reproducible',
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL')
  for (const dir of SYSTEM_DIRS) {
    let st
    try {
      st = lstatSync(dir)
    } catch {
      continue
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir)
    else if (st.isDirectory()) args.push('--ro-bind', dir, dir)
  }
  args.push('--proc', '/proc', '--dev', '/dev')
  for (const tmp of ['/tmp', '/var/tmp']) {
    if (opts.features.tmpfsSize) args.push('--size', String(opts.tmpfsBytes))
    args.push('--tmpfs', tmp)
  }
  args.push('--bind', resolve(opts.workDir), SANDBOX_WORK, '--remount-ro', '/', '--chdir', SANDBOX_WORK, '--clearenv')
  for (const [k, v] of Object.entries(opts.env)) args.push('--setenv', k, v)
  args.push('--')
  return args
}

/** How the build's uid is reached on this host */
export interface UidPlan {
  /** argv prefix (setpriv) when the node runs as root */
  prefix: string[]
  mode: IsolationReport['uidMode']
  /** The host uid/gid that must own the work directory, when it is not the node's own */
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
 * Why uid `uid` cannot reach `dir` (every parent must be searchable by it), or undefined when it can. bwrap
 * resolves bind sources as the build user, so an unreachable work directory fails the sandbox set-up.
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
 * Tries the exact sandbox of a build (with `true` as the command), first with every feature, then without
 * the optional ones. Returns the features that work, or why the sandbox cannot run here.
 */
export async function probeSandbox (bwrap: string, uid: UidPlan): Promise<{ features?: BwrapFeatures, reason?: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'skyline-bwrap-probe-'))
  try {
    if (uid.chownTo !== undefined) {
      const { chown } = await import('node:fs/promises')
      await chown(dir, uid.chownTo.uid, uid.chownTo.gid)
      const why = await unreachableFor(dir, uid.chownTo.uid, uid.chownTo.gid)
      if (why !== undefined) return { reason: why }
    }
    let last = ''
    for (const features of [{ disableUserns: true, tmpfsSize: true }, { disableUserns: false, tmpfsSize: false }]) {
      const argv = [...uid.prefix, ...bwrapArgs({ bwrap, workDir: dir, features, tmpfsBytes: 64 * 1024 * 1024, env: baseEnv() }), '/bin/sh', '-c', 'touch /build/ok']
      const r = await execProbe(argv[0], argv.slice(1))
      if (r.code === 0) return { features }
      last = r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`
    }
    return { reason: `bubblewrap cannot set up the sandbox: ${last} (are unprivileged user namespaces enabled? sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone)` }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
