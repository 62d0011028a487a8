/**
 * Node configuration: defaults, then a JSON config file, then command-line overrides. Every field is
 * checked before use; any problem is one ConfigError line naming the file and the field.
 * The format is documented in docs/config.md.
 */
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve, dirname } from 'node:path'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { ConfigError } from './errors.ts'
import { bootstrapFromLockfile, bootstrapImagePath } from '../builder/mock-config.ts'
import type { MockHermeticInit } from '../builder/types.ts'
import { isValidContributor } from '../rules/contributor.ts'
import { METERED_MODES, type MeteredMode } from '../services/metered.ts'
import { DEFAULT_HTTP, DEFAULT_INBOUND_CONNECTION_THRESHOLD, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS } from './constants.ts'

/** @default 20 GiB: the buildroot package cache */
export const DEFAULT_BUILDROOT_CACHE_BYTES = 20 * 1024 ** 3

export type BuilderKind = 'rpmbuild' | 'mock' | 'none' | 'auto'

/** The config file's shape: every field optional. */
export interface ConfigFile {
  dataDir?: string
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  bootstrapFile?: string
  http?: string
  builder?: BuilderKind
  keyring?: string
  announcers?: string[]
  maxConnections?: number
  inboundConnectionThreshold?: number
  dhtClientMode?: boolean
  floodPublish?: boolean
  contributor?: string
  buildrootMirrors?: string[]
  buildrootCacheBytes?: number
  maxUpload?: string
  maxDownload?: string
  mockConfig?: string
  mockIsolation?: string
  mockHermeticLock?: string
  mockHermeticRepo?: string
  metered?: MeteredMode
}

/** The resolved configuration a node runs with. */
export interface NodeConfig {
  dataDir: string
  listen: Multiaddr[]
  announce: Multiaddr[]
  bootstrap: Multiaddr[]
  http: { host: string, port: number } | undefined
  builder: BuilderKind
  keyring: string | undefined
  announcers: string[]
  maxConnections: number
  inboundConnectionThreshold: number
  dhtClientMode: boolean
  /**
   * whether this node publishes its own gossip messages to every topic peer (gossipsub's flood publishing),
   * or only to its mesh of the topic (at least D peers): `skyline seed` turns it off (docs/protocols/gossip.md)
   */
  floodPublish: boolean
  /** who runs this node, signed into its attestations for the stats tracker ('' when not set) */
  contributor: string
  /** dnf repositories (http/https) the packages of a job's buildroot are fetched from (docs/protocols/buildroot.md) */
  buildrootMirrors: string[]
  /** size limit of the buildroot package cache, bytes */
  buildrootCacheBytes: number
  /** blob bytes this node serves per second, all peers together (0: no cap) */
  maxUpload: number
  /** blob bytes this node fetches per second (0: no cap) */
  maxDownload: number
  /** the mock builder's settings (docs/build.md, "A Fedora volunteer with mock") */
  mock: { config?: string, isolation?: 'simple' | 'nspawn', hermetic?: MockHermeticInit }
  /** whether a metered link pauses blob transfer and job taking: 'auto' (ask NetworkManager), 'ignore', 'pause' */
  metered: MeteredMode
  /** where the config came from, for status output */
  configFile: string | undefined
}

/** Command-line overrides: given flags replace (not extend) the file's values. */
export interface ConfigOverrides {
  configFile?: string
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  http?: string
  builder?: string
  keyring?: string
  announcers?: string[]
  contributor?: string
  maxUpload?: string
  maxDownload?: string
  metered?: string
}

const FIELDS: Record<keyof ConfigFile, 'string' | 'string[]' | 'number' | 'boolean'> = {
  dataDir: 'string',
  listen: 'string[]',
  announce: 'string[]',
  bootstrap: 'string[]',
  bootstrapFile: 'string',
  http: 'string',
  builder: 'string',
  keyring: 'string',
  announcers: 'string[]',
  maxConnections: 'number',
  inboundConnectionThreshold: 'number',
  dhtClientMode: 'boolean',
  floodPublish: 'boolean',
  contributor: 'string',
  buildrootMirrors: 'string[]',
  buildrootCacheBytes: 'number',
  maxUpload: 'string',
  maxDownload: 'string',
  mockConfig: 'string',
  mockIsolation: 'string',
  mockHermeticLock: 'string',
  mockHermeticRepo: 'string',
  metered: 'string'
}

const BUILDERS = new Set(['rpmbuild', 'mock', 'none', 'auto'])

/**
 * A ConfigError of one line, whatever the input it quotes: control characters (newlines included, from
 * a file, a flag or a parser's message that quotes its input) are shown escaped.
 */
function configError (message: string): ConfigError {
  // eslint-disable-next-line no-control-regex
  return new ConfigError(message.replace(/[\u0000-\u001f\u007f]/g, c => JSON.stringify(c).slice(1, -1)))
}

/** What a TCP listener takes: an IP address or a DNS name, then the TCP port; nothing after */
const LISTEN_HOSTS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])
/** An HTTP bind host: an IPv4 or IPv6 address, or a host name */
const HOST_RE = /^(?:[0-9a-fA-F:.]+|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$/

/**
 * The default data directory: /var/lib/skyline when run as a service (systemd sets STATE_DIRECTORY),
 * else $XDG_DATA_HOME/skyline (~/.local/share/skyline).
 */
export function defaultDataDir (env: NodeJS.ProcessEnv = process.env): string {
  if (env.STATE_DIRECTORY != null && env.STATE_DIRECTORY !== '') return env.STATE_DIRECTORY.split(':')[0]
  const xdg = env.XDG_DATA_HOME != null && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share')
  return join(xdg, 'skyline')
}

/** Parses and checks a config file's text. `source` names it in errors. */
export function parseConfigFile (text: string, source: string): ConfigFile {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err: any) {
    throw configError(`${source}: not valid JSON: ${err.message}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(`${source}: must be a JSON object`)
  }
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith('$') || key === 'comment') continue
    // own fields only: '__proto__', 'constructor' or 'toString' are unknown fields, not Object.prototype's
    const type = Object.hasOwn(FIELDS, key) ? FIELDS[key as keyof ConfigFile] : undefined
    if (type === undefined) throw configError(`${source}: unknown field '${key.slice(0, 80)}' (known: ${Object.keys(FIELDS).join(', ')})`)
    const ok = type === 'string[]'
      ? Array.isArray(value) && value.every(v => typeof v === 'string')
      : typeof value === type && (type !== 'number' || (Number.isSafeInteger(value) && (value as number) > 0))
    if (!ok) throw configError(`${source}: field '${key}' must be ${type === 'number' ? 'a positive integer' : type === 'string[]' ? 'an array of strings' : `a ${type}`}`)
    out[key] = value
  }
  return out as ConfigFile
}

const RATE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }

/** A rate in bytes per second: digits and an optional K, M or G (binary: 1K = 1024), e.g. `512K`; 0 for no cap */
export function parseRate (text: string, where: string): number {
  const m = /^\s*(\d{1,12})\s*([KMG]?)(?:i?B)?(?:\/s)?\s*$/i.exec(text)
  if (m === null) throw configError(`${where}: bad rate '${text.slice(0, 80)}' (bytes per second: 0, 500K, 2M)`)
  return Number(m[1]) * RATE_UNITS[m[2].toUpperCase()]
}

export function parseMultiaddr (text: string, where: string): Multiaddr {
  let ma: Multiaddr
  try {
    ma = multiaddr(text.trim())
  } catch (err: any) {
    throw configError(`${where}: bad multiaddr '${text}': ${String(err.message).split('\n')[0]}`)
  }
  return ma
}

/** A bootstrap address must name its peer: /ip4/…/tcp/…/p2p/<peer id> */
export function parseBootstrapAddr (text: string, where: string): Multiaddr {
  const ma = parseMultiaddr(text, where)
  const id = ma.getComponents().find(c => c.name === 'p2p')?.value
  if (id == null) throw configError(`${where}: bootstrap address '${text}' has no /p2p/<peer id>`)
  try {
    peerIdFromString(id)
  } catch {
    throw configError(`${where}: bootstrap address '${text}' has a bad peer ID`)
  }
  return ma
}

/**
 * A bootstrap peer list (bootstrap/*.txt): one multiaddr with /p2p/<peer id> per line; blank lines and
 * lines starting with '#' are ignored.
 */
export function parseBootstrapList (text: string, source: string): Multiaddr[] {
  const out: Multiaddr[] = []
  text.split('\n').forEach((line, i) => {
    const t = line.trim()
    if (t === '' || t.startsWith('#')) return
    out.push(parseBootstrapAddr(t, `${source}:${i + 1}`))
  })
  return out
}

export function parseHostPort (text: string, where: string): { host: string, port: number } | undefined {
  if (text === 'off' || text === 'none') return undefined
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port > 65535 || !HOST_RE.test(m[1].replace(/^\[|\]$/g, ''))) throw configError(`${where}: bad HOST:PORT '${text}' (for example 127.0.0.1:7771, or 'off')`)
  return { host: m[1].replace(/^\[|\]$/g, ''), port }
}

function readText (path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err: any) {
    throw configError(`cannot read ${what} ${path}: ${err.code ?? err.message}`)
  }
}

/**
 * The mock builder's settings from the file: the config (`-r`), the isolation, and for hermetic builds a
 * buildroot_lock.json mock wrote (its bootstrap image) with the repository mock-hermetic-repo made from it.
 */
function mockSettings (file: ConfigFile, src: string, rel: (p: string) => string): NodeConfig['mock'] {
  if (file.mockConfig !== undefined && (!/^[A-Za-z0-9_./+-]{1,200}$/.test(file.mockConfig) || file.mockConfig.startsWith('-'))) throw configError(`${src}: mockConfig: bad mock config '${file.mockConfig.slice(0, 80)}'`)
  if (file.mockIsolation !== undefined && file.mockIsolation !== 'nspawn' && file.mockIsolation !== 'simple') throw configError(`${src}: mockIsolation must be nspawn or simple (got '${file.mockIsolation.slice(0, 80)}')`)
  const mock: NodeConfig['mock'] = { config: file.mockConfig, isolation: file.mockIsolation as 'simple' | 'nspawn' | undefined }
  if ((file.mockHermeticLock === undefined) !== (file.mockHermeticRepo === undefined)) throw configError(`${src}: mockHermeticLock and mockHermeticRepo go together`)
  if (file.mockHermeticLock === undefined || file.mockHermeticRepo === undefined) return mock
  const lockPath = rel(file.mockHermeticLock)
  try {
    const bootstrap = bootstrapFromLockfile(JSON.parse(readText(lockPath, 'mock lockfile')))
    return { ...mock, hermetic: { bootstrap, imageDir: join(rel(file.mockHermeticRepo), bootstrapImagePath(bootstrap)) } }
  } catch (err: any) {
    throw err instanceof ConfigError ? err : configError(`${src}: mockHermeticLock ${lockPath}: ${err.message}`)
  }
}

/** Resolves the configuration from defaults, the config file and command-line overrides. */
export function loadConfig (overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const configFile = overrides.configFile
  const file: ConfigFile = configFile == null ? {} : parseConfigFile(readText(configFile, 'config file'), configFile)
  const base = configFile == null ? process.cwd() : dirname(resolve(configFile))
  const rel = (p: string): string => isAbsolute(p) ? p : resolve(base, p)
  const src = configFile ?? 'defaults'

  const listenText = overrides.listen ?? file.listen ?? DEFAULT_LISTEN
  const listen = listenText.map((t, i) => parseMultiaddr(t, overrides.listen != null ? '--listen' : `${src}: listen[${i}]`))
  for (const ma of listen) {
    const parts = ma.getComponents()
    if (parts.length !== 2 || !LISTEN_HOSTS.has(parts[0].name) || parts[1].name !== 'tcp') {
      throw configError(`listen address '${ma.toString()}' is not TCP (an address and a port: /ip4/0.0.0.0/tcp/7770)`)
    }
  }
  const announce = (file.announce ?? []).map((t, i) => parseMultiaddr(t, `${src}: announce[${i}]`))

  const bootstrap: Multiaddr[] = []
  if (file.bootstrapFile != null) bootstrap.push(...parseBootstrapList(readText(rel(file.bootstrapFile), 'bootstrap file'), file.bootstrapFile))
  const bootText = overrides.bootstrap ?? file.bootstrap ?? []
  bootText.forEach((t, i) => bootstrap.push(parseBootstrapAddr(t, overrides.bootstrap != null ? '--bootstrap' : `${src}: bootstrap[${i}]`)))

  const builder = overrides.builder ?? file.builder ?? 'auto'
  if (!BUILDERS.has(builder)) throw configError(`builder must be one of rpmbuild, mock, none, auto (got '${builder}')`)

  const dataDir = overrides.dataDir ?? (file.dataDir != null ? rel(file.dataDir) : defaultDataDir(env))
  const keyring = overrides.keyring ?? (file.keyring != null ? rel(file.keyring) : undefined)
  const announcers = overrides.announcers ?? (file.announcers ?? []).map(a => a.trim().startsWith('skyline-announcer-') ? a : rel(a))

  const contributor = overrides.contributor ?? file.contributor ?? ''
  if (!isValidContributor(contributor)) throw configError(`contributor must be at most 64 printable characters with no leading or trailing space (got ${JSON.stringify(contributor.slice(0, 80))})`)

  const buildrootMirrors = file.buildrootMirrors ?? []
  for (const m of buildrootMirrors) {
    let url
    try { url = new URL(m) } catch {}
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw configError(`${src}: buildrootMirrors: '${m.slice(0, 200)}' is not an http or https URL`)
  }
  const buildrootCacheBytes = file.buildrootCacheBytes ?? DEFAULT_BUILDROOT_CACHE_BYTES
  if (!Number.isSafeInteger(buildrootCacheBytes) || buildrootCacheBytes < 1) throw configError(`${src}: buildrootCacheBytes must be a positive integer`)

  const metered = overrides.metered ?? file.metered ?? 'auto'
  if (!(METERED_MODES as readonly string[]).includes(metered)) throw configError(`${overrides.metered != null ? '--metered' : `${src}: metered`} must be one of ${METERED_MODES.join(', ')} (got '${String(metered).slice(0, 40)}')`)

  return {
    dataDir: resolve(dataDir),
    listen,
    announce,
    bootstrap,
    http: parseHostPort(overrides.http ?? file.http ?? DEFAULT_HTTP, overrides.http != null ? '--http' : `${src}: http`),
    builder: builder as BuilderKind,
    keyring,
    announcers,
    maxConnections: file.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    inboundConnectionThreshold: file.inboundConnectionThreshold ?? DEFAULT_INBOUND_CONNECTION_THRESHOLD,
    dhtClientMode: file.dhtClientMode ?? false,
    floodPublish: file.floodPublish ?? true,
    contributor,
    buildrootMirrors,
    buildrootCacheBytes,
    maxUpload: parseRate(overrides.maxUpload ?? file.maxUpload ?? '0', overrides.maxUpload != null ? '--max-upload' : `${src}: maxUpload`),
    maxDownload: parseRate(overrides.maxDownload ?? file.maxDownload ?? '0', overrides.maxDownload != null ? '--max-download' : `${src}: maxDownload`),
    mock: mockSettings(file, src, rel),
    metered: metered as MeteredMode,
    configFile
  }
}
