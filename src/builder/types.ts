/** The types every builder backend shares: what a build takes, returns and reports (docs/build.md). */
import type { ComponentLogger } from '@libp2p/interface'
import type { BuildrootManifest } from '../rules/buildroot.ts'
import type { MockBootstrapImage } from './mock-config.ts'

export type BuilderKind = 'rpmbuild' | 'mock'

/** What a build in a buildroot takes (buildroot.ts): the manifest, its sha256, and a local file for every package */
export interface BuildrootInput {
  manifest: BuildrootManifest
  /** hex sha256 of the manifest's bytes (what the announcement signed), reported in the environment */
  sha256: string
  /** content sha256 (hex) → path of a package file the node holds */
  packages: ReadonlyMap<string, string>
}

/** One binary RPM of a build */
export interface BuildFile {
  /** Base name, e.g. `hello-1.0-1.fc41.noarch.rpm` */
  name: string
  size: number
  /** Lowercase hex */
  sha256: string
}

/**
 * What the output depends on besides the SRPM, carried in the attestation: builders that disagree on any of
 * it may legitimately produce different bytes.
 */
export type BuildEnvironment = {
  builder: BuilderKind
  /** rpm that built the package: `rpm --version` of the host (rpmbuild) or of the chroot (mock) */
  rpmVersion: string
  /** rpmbuild: `%{_target_platform}` built for (e.g. `x86_64-redhat-linux-gnu`); mock: the config's name */
  target: string
  /** mock only: the `-r` config */
  mockConfig?: string
  /** The `_binary_payload` macro */
  binaryPayload: string
  /** hex sha256 of the buildroot manifest the build ran in, when the job has one */
  buildroot?: string
}

/** The limits of one build. `maxConcurrentBuilds` is for the caller, which runs the queue. */
export interface BuildLimits {
  /** @default DEFAULT_MAX_CONCURRENT_BUILDS (1) */
  maxConcurrentBuilds: number
  /** Wall-clock limit; the build's processes are killed after it. @default DEFAULT_MAX_BUILD_TIME_MS (2 h) */
  maxBuildTimeMs: number
  /**
   * Room for the build's writable tree: in the sandbox, the size of its tmpfs (memory and swap, used as
   * written; the kernel refuses the byte past it); unsandboxed and mock, polled. @default DEFAULT_MAX_DISK_BYTES (4 GiB)
   */
  maxDiskBytes: number
  /** Total size of the output RPMs. @default DEFAULT_MAX_OUTPUT_BYTES (2 GiB) */
  maxOutputBytes: number
  /** Log kept, head and tail. @default DEFAULT_MAX_LOG_BYTES (4 MiB) */
  maxLogBytes: number
}

/** How the build was isolated; local facts for the operator, not part of the attestation */
export interface IsolationReport {
  sandbox: 'bwrap' | 'mock' | 'none'
  /** Namespaces of the sandbox (bwrap --unshare-all: user, ipc, pid, net, uts, cgroup) */
  namespaces: string[]
  /** uid the build ran as, inside the sandbox */
  uid: number
  /**
   * How that uid was reached: `host-drop` — the node runs as root and the build runs as uid 65534 on the
   * host too (setpriv); `userns-mapped` — uid 65534 inside a user namespace that maps it to the node's own
   * uid; `self` — the node's uid (no sandbox)
   */
  uidMode: 'host-drop' | 'userns-mapped' | 'self'
  /** Idle-priority settings that were applied */
  priority: PriorityReport
}

export interface PriorityReport {
  nice: number
  /** `idle` when ionice -c 3 was applied */
  ioClass?: 'idle'
  /** `SCHED_IDLE` when chrt --idle was applied */
  schedPolicy?: 'SCHED_IDLE'
}

export interface BuildResult {
  status: 'ok' | 'failed'
  /** Why it failed, one line (`rpmbuild exited with code 1`, `timed out after 7200 s`, ...) */
  reason?: string
  /** The binary RPMs (never the rebuilt SRPM, never logs), sorted by name; empty on failure */
  files: BuildFile[]
  /** sha256 over the sorted lines `"<sha256>  <name>\n"` of `files`; absent on failure */
  buildHash?: string
  /** Directory holding the files, by name */
  outputDir: string
  environment: BuildEnvironment
  isolation: IsolationReport
  durationMs: number
  /** The tail of the log (at most LOG_EXCERPT_BYTES), on failure */
  logExcerpt?: string
  /** The kept log (head and tail, at most maxLogBytes) is written here */
  logPath: string
}

export type BuildPhase = 'setup' | 'start' | 'prep' | 'build' | 'install' | 'check' | 'package' | 'hash' | 'done'

/** A progress event, in the shape of libp2p's ProgressEvent */
export type BuildProgressEvent =
  | { type: 'build:phase', detail: { phase: BuildPhase } }
  | { type: 'build:output', detail: { name: string } }

export interface BuildOptions {
  /** Aborting kills the build's processes; `build` then rejects with an AbortError */
  signal?: AbortSignal
  /** rpmbuild `--target` (e.g. `noarch`, `x86_64`); mock takes its target from the config */
  target?: string
  onProgress?: (event: BuildProgressEvent) => void
  /**
   * An empty (or absent) directory of the node's own; its parent must exist. Only the node writes there:
   * the outputs (`<workDir>/output`) and the log (`<workDir>/build.log`); the sandbox never sees it. An
   * unsandboxed build as root runs in `<workDir>/tree` as uid 65534, which must then reach it.
   */
  workDir: string
  /**
   * The job's buildroot: the build runs in exactly these packages (buildroot.ts), or `build` rejects with
   * BuildrootUnavailableError (the job is declined, never built elsewhere)
   */
  buildroot?: BuildrootInput
}

export interface Builder {
  readonly kind: BuilderKind
  readonly limits: Readonly<BuildLimits>
  /** Resolves when the build finished, failed or was killed for a limit; rejects on abort or a setup error */
  build: (srpmPath: string, options: BuildOptions) => Promise<BuildResult>
}

export interface BuilderInit {
  limits?: Partial<BuildLimits>
  /** @default DEFAULT_BINARY_PAYLOAD ('w19.zstdio') */
  binaryPayload?: string
  /**
   * What to do when bubblewrap cannot create its namespaces (no user namespaces, no bwrap): `required` —
   * no rpmbuild builder; `optional` — build without a sandbox (uid drop and idle priority only), reported in
   * `isolation.sandbox: 'none'`. Only for machines whose operator accepts running untrusted spec files.
   * @default 'required'
   */
  sandbox?: 'required' | 'optional'
  /** mock's `-r` config. @default DEFAULT_MOCK_CONFIG ('default') */
  mockConfig?: string
  /** mock's isolation. @default DEFAULT_MOCK_ISOLATION ('nspawn') */
  mockIsolation?: 'simple' | 'nspawn'
  /**
   * Jobs with a buildroot manifest built with `mock --hermetic-build` (mock 5.7+) from a lockfile instead
   * of a generated config; mock requires a prepared bootstrap image for it. Absent (the default), or with
   * an older mock: a generated config.
   */
  mockHermetic?: MockHermeticInit
  logger?: ComponentLogger
}

/** The bootstrap image of hermetic mock builds (docs/build.md, "A Fedora volunteer with mock") */
export interface MockHermeticInit {
  bootstrap: MockBootstrapImage
  /** The image as `skopeo copy … dir:DIR` (or mock-hermetic-repo) left it; linked into each job's repository */
  imageDir: string
}

export interface DetectResult {
  builder?: Builder
  /** Why there is no builder, or why `auto` chose the one it did */
  reason?: string
  /** Things the operator should know (no ionice, unsandboxed fallback, ...) */
  warnings: string[]
}
