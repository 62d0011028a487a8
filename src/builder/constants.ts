/** Defaults of the build worker. Each is overridable through `BuildLimits` or the builder's init options. */

/** @default 1 — builds a node runs at once; the caller (the build queue) enforces it */
export const DEFAULT_MAX_CONCURRENT_BUILDS = 1

/** @default 7_200_000 (2 h) — wall-clock limit of one build; the process group is killed after it */
export const DEFAULT_MAX_BUILD_TIME_MS = 2 * 60 * 60 * 1000

/**
 * @default 4 GiB — room for a build's writable tree (SRPM, sources, BUILD tree, BUILDROOT, RPMS). In the
 * sandbox that tree is a tmpfs of this size, so the kernel refuses the byte past it (ENOSPC): memory and
 * swap, used only as written. Unsandboxed and mock builds are measured every DISK_CHECK_INTERVAL_MS.
 */
export const DEFAULT_MAX_DISK_BYTES = 4 * 1024 ** 3

/** @default 2 GiB — total size of the binary RPMs a build may produce */
export const DEFAULT_MAX_OUTPUT_BYTES = 2 * 1024 ** 3

/** @default 4 MiB — build log kept (in memory and in `build.log`): its head and its tail, the middle is dropped */
export const DEFAULT_MAX_LOG_BYTES = 4 * 1024 * 1024

/** @default 512 MiB — size of each tmpfs (/tmp, /var/tmp) inside the sandbox */
export const DEFAULT_TMPFS_BYTES = 512 * 1024 ** 2

/** @default 64 MiB — size of the sandbox's /dev/shm (POSIX shared memory, semaphores); the rest of /dev is read-only */
export const DEFAULT_SHM_BYTES = 64 * 1024 ** 2

/** @default 16 KiB — tail of the log returned as `logExcerpt` of a failed build */
export const LOG_EXCERPT_BYTES = 16 * 1024

/** Share of `maxLogBytes` kept from the start of the log; the rest is its tail */
export const LOG_HEAD_SHARE = 0.25

/** @default 5_000 — how often an unsandboxed or mock build's disk use is measured (a sandboxed build's tree is a capped tmpfs) */
export const DISK_CHECK_INTERVAL_MS = 5_000

/** @default 5_000 — grace between SIGTERM and SIGKILL of a build's process group */
export const KILL_GRACE_MS = 5_000

/**
 * @default 'w19.zstdio' — the `_binary_payload` every builder uses: it is part of the output bytes, so all
 * builders of a job must use the same string (Fedora's own setting). rpm must support zstd payloads
 * (`rpmlib(PayloadIsZstd)`), and the zstd library version matters too (see docs/build.md).
 */
export const DEFAULT_BINARY_PAYLOAD = 'w19.zstdio'

/** rpm macros that make a rebuild reproducible with rpm 4.18 (docs/protocols/consensus.md, "Build hash"); `_binary_payload` is added */
export const REPRODUCIBLE_DEFINES: ReadonlyArray<readonly [string, string]> = [
  ['source_date_epoch_from_changelog', '1'],
  ['use_source_date_epoch_as_buildtime', '1'],
  ['clamp_mtime_to_source_date_epoch', '1'],
  ['_buildhost', 'reproducible']
]

/** The environment of every build: nothing is inherited from the node (no SOURCE_DATE_EPOCH, no locale, no proxy) */
export const BUILD_PATH = '/usr/bin:/bin:/usr/sbin:/sbin'
export const BUILD_LANG = 'C.UTF-8'
export const BUILD_TZ = 'UTC'

/** Paths inside the sandbox: fixed, so the BUILD tree (and debuginfo paths) are the same on every builder */
export const SANDBOX_WORK = '/build'
export const SANDBOX_TOPDIR = '/build/rpmbuild'
export const SANDBOX_HOME = '/build/home'
export const SANDBOX_INPUT = '/build/input'

/** The shell that runs rpmbuild and then hands its outputs over (output-stream.ts) */
export const BUILD_SHELL = '/bin/sh'

/** The SRPM reaches the build as this open file descriptor (bwrap copies it into the sandbox: `--file 3`) */
export const SRPM_FD = 3
/** The build hands its binary RPMs to the node as a stream on this file descriptor (output-stream.ts) */
export const OUTPUT_FD = 4

/** uid/gid builds run as: `nobody` inside the sandbox, and on the host too when the node runs as root */
export const BUILD_UID = 65534
export const BUILD_GID = 65534

/** Idle priority: nice 19, the idle I/O class, and SCHED_IDLE */
export const NICE_LEVEL = 19

/** @default 'default' — mock config (`-r`): /etc/mock/default.cfg points at the host's release */
export const DEFAULT_MOCK_CONFIG = 'default'

/** @default 'nspawn' — mock's isolation; `simple` is a chroot (no network namespace of its own) */
export const DEFAULT_MOCK_ISOLATION = 'nspawn'

/** @default 10_000 — limit for the small probes (`rpm --version`, `bwrap ... true`) */
export const PROBE_TIMEOUT_MS = 10_000
