/**
 * Shared test helpers: fixture paths, keyrings, rpmkeys' recorded verdicts, a live rpmkeys runner,
 * and tools to rebuild a package with a different signature header (for signatures the fixtures lack).
 */
import { spawnSync } from 'node:child_process'
import { createHash, createPrivateKey, sign } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import * as openpgp from 'openpgp'
import { RPM_TYPE, TAG_HEADERSIGNATURES } from '../../src/rpm/constants.ts'
import { Keyring, parseKeys } from '../../src/rpm/keyring.ts'
import { readRpm, signaturePadding } from '../../src/rpm/reader.ts'

export const FIXTURES = resolve(import.meta.dirname, '../fixtures/rpm')

export function fixture (rel: string): string {
  return join(FIXTURES, rel)
}

export function fixtureBytes (rel: string): Uint8Array {
  return new Uint8Array(readFileSync(fixture(rel)))
}

/** Every file under the fixture folder, relative to it, sorted. */
export function allFixtureFiles (): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      if (statSync(p).isDirectory()) walk(p)
      else out.push(relative(FIXTURES, p))
    }
  }
  walk(FIXTURES)
  return out.sort()
}

export async function keyringOf (...rels: string[]): Promise<Keyring> {
  const keys = []
  for (const rel of rels) keys.push(...await parseKeys(fixtureBytes(rel), rel))
  return new Keyring(keys)
}

export async function keyOf (rel: string): Promise<openpgp.PublicKey> {
  const [key] = await parseKeys(fixtureBytes(rel), rel)
  return key
}

/** One file's entry in rpmkeys-4.18-verdicts.txt. */
export interface RpmkeysVerdict {
  readonly set: string
  readonly file: string
  readonly lines: readonly string[]
  readonly rc: number
}

export interface RpmkeysVerdicts {
  /** Set name → keyring files (relative to the fixtures). */
  readonly sets: ReadonlyMap<string, readonly string[]>
  /** Keys rpm 4.18 could not import. */
  readonly unimportable: ReadonlySet<string>
  readonly verdicts: ReadonlyMap<string, RpmkeysVerdict>
}

export function parseVerdicts (text: string): RpmkeysVerdicts {
  const sets = new Map<string, string[]>()
  const unimportable = new Set<string>()
  const verdicts = new Map<string, RpmkeysVerdict>()
  let set = ''
  let file: string | undefined
  let lines: string[] = []
  for (const line of text.split('\n')) {
    let m
    if ((m = /^## set: (\S+)\s+keyring: (.*)$/.exec(line)) !== null) {
      set = m[1]
      sets.set(set, m[2].trim().split(/\s+/))
    } else if ((m = /^# \(rpm 4\.18 cannot import (\S+)\)/.exec(line)) !== null) {
      unimportable.add(m[1])
    } else if ((m = /^(\S.*\S):$/.exec(line)) !== null) {
      file = m[1]
      lines = []
    } else if ((m = /^\s+=> rc=(\d+)$/.exec(line)) !== null && file !== undefined) {
      verdicts.set(file, { set, file, lines, rc: Number(m[1]) })
      file = undefined
    } else if (file !== undefined && line.trim() !== '') {
      lines.push(line.trim())
    }
  }
  return { sets, unimportable, verdicts }
}

export function loadVerdicts (): RpmkeysVerdicts {
  return parseVerdicts(readFileSync(fixture('rpmkeys-4.18-verdicts.txt'), 'utf8'))
}

/** rpmkeys on PATH, if any. */
export function hasRpmkeys (): boolean {
  return spawnSync('rpmkeys', ['--version'], { stdio: 'ignore' }).status === 0
}

/** A throwaway rpm database with these keys imported (failures to import are ignored, as in the recorded run). */
export class LiveRpmkeys {
  readonly dbpath: string

  constructor (keyFiles: string[]) {
    this.dbpath = mkdtempSync(join(tmpdir(), 'skyline-rpmdb-'))
    for (const k of keyFiles) spawnSync('rpmkeys', ['--dbpath', this.dbpath, '--import', k], { stdio: 'ignore' })
  }

  /** rpmkeys --checksig exit code and output for a package file. */
  checksig (file: string): { rc: number, output: string } {
    const r = spawnSync('rpmkeys', ['--dbpath', this.dbpath, '--checksig', '-v', file], { encoding: 'utf8' })
    return { rc: r.status ?? -1, output: `${r.stdout}${r.stderr}` }
  }

  close (): void {
    rmSync(this.dbpath, { recursive: true, force: true })
  }
}

/** An entry to write into a signature header. */
export interface RawEntry {
  tag: number
  type: number
  count: number
  data: Uint8Array
}

const ALIGN: Record<number, number> = { [RPM_TYPE.INT16]: 2, [RPM_TYPE.INT32]: 4, [RPM_TYPE.INT64]: 8 }

/** The entries of a package's signature header, as raw bytes (region entry excluded). */
export function signatureEntries (pkgBytes: Uint8Array): RawEntry[] {
  const pkg = readRpm(pkgBytes)
  return pkg.signatureHeader.entries.map(e => ({ tag: e.tag, type: e.type, count: e.count, data: pkg.signatureHeader.raw(e.tag) as Uint8Array }))
}

/** A signature header holding `entries` in one immutable region (tag 62), laid out as rpm does. */
export function buildSignatureHeader (entries: RawEntry[]): Uint8Array {
  const il = entries.length + 1
  const chunks: Uint8Array[] = []
  const index: number[][] = []
  let off = 0
  for (const e of entries) {
    const align = ALIGN[e.type] ?? 1
    const pad = (align - (off % align)) % align
    if (pad > 0) chunks.push(new Uint8Array(pad))
    off += pad
    index.push([e.tag, e.type, off, e.count])
    chunks.push(e.data)
    off += e.data.byteLength
  }
  const trailer = new Uint8Array(16)
  const tv = new DataView(trailer.buffer)
  tv.setUint32(0, TAG_HEADERSIGNATURES)
  tv.setUint32(4, RPM_TYPE.BIN)
  tv.setInt32(8, -il * 16)
  tv.setUint32(12, 16)
  const regionOffset = off
  chunks.push(trailer)
  off += 16
  const dl = off
  const out = new Uint8Array(16 + il * 16 + dl)
  const v = new DataView(out.buffer)
  out.set([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0])
  v.setUint32(8, il)
  v.setUint32(12, dl)
  const writeEntry = (i: number, [tag, type, offset, count]: number[]): void => {
    v.setUint32(16 + i * 16, tag)
    v.setUint32(16 + i * 16 + 4, type)
    v.setInt32(16 + i * 16 + 8, offset)
    v.setUint32(16 + i * 16 + 12, count)
  }
  writeEntry(0, [TAG_HEADERSIGNATURES, RPM_TYPE.BIN, regionOffset, 16])
  index.forEach((e, i) => writeEntry(i + 1, e))
  let p = 16 + il * 16
  for (const c of chunks) {
    out.set(c, p)
    p += c.byteLength
  }
  return out
}

/** The package with its signature header replaced by one holding `entries`. */
export function repackage (pkgBytes: Uint8Array, entries: RawEntry[]): Uint8Array {
  const pkg = readRpm(pkgBytes)
  const sig = buildSignatureHeader(entries)
  const pad = signaturePadding(sig.byteLength)
  const rest = pkgBytes.subarray(pkg.headerOffset)
  const out = new Uint8Array(96 + sig.byteLength + pad + rest.byteLength)
  out.set(pkgBytes.subarray(0, 96))
  out.set(sig, 96)
  out.set(rest, 96 + sig.byteLength + pad)
  return out
}

/** A BIN signature-header entry holding an OpenPGP signature packet. */
export function binEntry (tag: number, data: Uint8Array): RawEntry {
  return { tag, type: RPM_TYPE.BIN, count: data.byteLength, data }
}

function mpi (bytes: Uint8Array): Uint8Array {
  let i = 0
  while (i < bytes.byteLength - 1 && bytes[i] === 0) i++
  const v = bytes.subarray(i)
  const bits = (v.byteLength - 1) * 8 + (32 - Math.clz32(v[0]))
  return new Uint8Array([bits >> 8, bits & 0xff, ...v])
}

function subpacket (type: number, body: Uint8Array, critical = false): Uint8Array {
  return new Uint8Array([body.byteLength + 1, type | (critical ? 0x80 : 0), ...body])
}

export interface HandSignOptions {
  /** Put an issuer fingerprint subpacket in the hashed area (default true). */
  fingerprint?: boolean
  /** Issuer key ID to claim (default: the key's). */
  issuerKeyId?: string
  /** Extra hashed subpackets (raw, with their length and type bytes). */
  extraHashed?: Uint8Array[]
  /** Creation time (default now). */
  created?: Date
  sigType?: number
}

/**
 * A V4 EdDSA (legacy Ed25519) signature packet over `data`, made by hand from an unencrypted secret key,
 * so the test controls every subpacket (OpenPGP.js always adds an issuer fingerprint).
 */
export function handSignEdDSA (data: Uint8Array, key: openpgp.PrivateKey, options: HandSignOptions = {}): Uint8Array {
  const kp = key.keyPacket as any
  const seed: Uint8Array = kp.privateParams.seed
  const q: Uint8Array = kp.publicParams.Q // 0x40 || 32-byte public key
  const created = Math.floor((options.created ?? new Date()).getTime() / 1000)
  const time = new Uint8Array(4)
  new DataView(time.buffer).setUint32(0, created)
  const keyId = Buffer.from(options.issuerKeyId ?? key.getKeyID().toHex(), 'hex')
  const hashedSubs = [
    subpacket(2, time),
    ...(options.fingerprint === false ? [] : [subpacket(33, new Uint8Array([4, ...Buffer.from(key.getFingerprint(), 'hex')]))]),
    subpacket(16, keyId),
    ...(options.extraHashed ?? [])
  ]
  const hashed = Buffer.concat(hashedSubs)
  const head = new Uint8Array([4, options.sigType ?? 0, 22, 8, hashed.byteLength >> 8, hashed.byteLength & 0xff])
  const hashedPart = Buffer.concat([head, hashed])
  const trailer = Buffer.alloc(6)
  trailer[0] = 4; trailer[1] = 0xff
  trailer.writeUInt32BE(hashedPart.byteLength, 2)
  const digest = createHash('sha256').update(data).update(hashedPart).update(trailer).digest()
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(seed).toString('base64url'), x: Buffer.from(q.subarray(1)).toString('base64url') },
    format: 'jwk'
  })
  const sig = sign(null, digest, privateKey)
  const body = Buffer.concat([hashedPart, Buffer.from([0, 0]), digest.subarray(0, 2), mpi(sig.subarray(0, 32)), mpi(sig.subarray(32))])
  // old-format packet, tag 2, two-byte length
  return new Uint8Array(Buffer.concat([Buffer.from([0x89, body.byteLength >> 8, body.byteLength & 0xff]), body]))
}

export { subpacket }

/** Runs ./bin/skyline with arguments; returns exit code and output. */
export function skyline (args: string[]): { status: number, stdout: string, stderr: string } {
  const bin = resolve(import.meta.dirname, '../../bin/skyline')
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 60_000 })
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

export function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** A FileHandle over bytes that records the largest read it was asked for. */
export function recordingHandle (bytes: Uint8Array): { fh: FileHandle, maxRead: () => number } {
  let max = 0
  const fh = {
    stat: async () => ({ size: bytes.byteLength }),
    read: async (buf: Uint8Array, offset: number, length: number, position: number) => {
      max = Math.max(max, length)
      const chunk = bytes.subarray(position, Math.min(bytes.byteLength, position + length))
      buf.set(chunk, offset)
      return { bytesRead: chunk.byteLength, buffer: buf }
    },
    close: async () => {}
  }
  return { fh: fh as unknown as FileHandle, maxRead: () => max }
}
