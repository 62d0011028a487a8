/**
 * A package mirror: a dnf repository (createrepo_c metadata) over HTTP(S). A package is looked up by its exact
 * name, epoch, version, release and arch in the primary metadata, never by name alone, so a mirror that
 * offers a newer version still gives the pinned one (or nothing). Downloads are bounded by the manifest's
 * recorded size; what they bring is checked by the cache (package-cache.ts), never trusted.
 */
import { createWriteStream } from 'node:fs'
import { gunzipSync, zstdDecompressSync } from 'node:zlib'
import { packageNevra, SIGNATURE_ALLOWANCE, type BuildrootPackage } from '../../rules/buildroot.ts'

/** @default 1 MiB: repomd.xml */
export const MAX_REPOMD_BYTES = 1024 * 1024
/** @default 64 MiB: the compressed primary metadata (Fedora's is ~20 MiB) */
export const MAX_PRIMARY_BYTES = 64 * 1024 * 1024
/** @default 1 GiB: the primary metadata once decompressed */
export const MAX_PRIMARY_XML_BYTES = 1024 * 1024 * 1024

export class MirrorError extends Error {
  static name = 'MirrorError'
  override name = 'MirrorError'
}

/** Fetches `url` into memory, at most `max` bytes */
async function fetchBounded (url: string, max: number, signal?: AbortSignal): Promise<Buffer> {
  const res = await fetch(url, { signal, redirect: 'follow' })
  if (!res.ok || res.body === null) throw new MirrorError(`${url}: HTTP ${res.status}`)
  const parts: Buffer[] = []
  let size = 0
  for await (const chunk of res.body) {
    size += chunk.byteLength
    if (size > max) throw new MirrorError(`${url}: more than ${max} bytes`)
    parts.push(Buffer.from(chunk))
  }
  return Buffer.concat(parts)
}

/** The identity a primary.xml entry and a manifest entry share: epoch 0 and no epoch are the same to rpm */
function key (p: { name: string, epoch: number | null, version: string, release: string, arch: string }): string {
  return packageNevra({ ...p, epoch: p.epoch ?? 0 })
}

const attr = (block: string, tag: string, name: string): string | undefined => new RegExp(`<${tag}\\b[^>]*\\b${name}="([^"]*)"`).exec(block)?.[1]

/** Parses primary.xml: the location of every package by its NEVRA */
export function parsePrimary (xml: string): Map<string, string> {
  const found = new Map<string, string>()
  for (const m of xml.matchAll(/<package type="rpm">([\s\S]*?)<\/package>/g)) {
    const block = m[1]
    const name = /<name>([^<]*)<\/name>/.exec(block)?.[1]
    const arch = /<arch>([^<]*)<\/arch>/.exec(block)?.[1]
    const version = attr(block, 'version', 'ver')
    const release = attr(block, 'version', 'rel')
    const href = attr(block, 'location', 'href')
    if (name === undefined || arch === undefined || version === undefined || release === undefined || href === undefined) continue
    if (href.includes('..') || href.startsWith('/') || /^[a-z]+:/i.test(href)) continue
    const epoch = Number(attr(block, 'version', 'epoch') ?? '0')
    found.set(key({ name, epoch, version, release, arch }), href)
  }
  return found
}

/** One mirror: its index is read once (on first use) and kept */
export class Mirror {
  readonly url: string
  private index: Promise<Map<string, string>> | undefined

  constructor (url: string) {
    const u = new URL(url)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new MirrorError(`mirror ${url}: only http and https`)
    this.url = url.endsWith('/') ? url : `${url}/`
  }

  private async readIndex (signal?: AbortSignal): Promise<Map<string, string>> {
    const repomd = (await fetchBounded(new URL('repodata/repomd.xml', this.url).href, MAX_REPOMD_BYTES, signal)).toString('utf8')
    const primary = /<data type="primary">([\s\S]*?)<\/data>/.exec(repomd)?.[1]
    const href = primary === undefined ? undefined : attr(primary, 'location', 'href')
    if (href === undefined) throw new MirrorError(`${this.url}: repomd.xml names no primary metadata`)
    const packed = await fetchBounded(new URL(href, this.url).href, MAX_PRIMARY_BYTES, signal)
    const opts = { maxOutputLength: MAX_PRIMARY_XML_BYTES }
    let xml: Buffer
    if (href.endsWith('.gz')) xml = gunzipSync(packed, opts)
    else if (href.endsWith('.zst')) xml = zstdDecompressSync(packed, opts)
    else if (href.endsWith('.xml')) xml = packed
    else throw new MirrorError(`${this.url}: primary metadata ${href}: only gzip and zstd are read`)
    return parsePrimary(xml.toString('utf8'))
  }

  /** Where the mirror keeps exactly this package, or undefined when it has no such NEVRA */
  async locate (p: BuildrootPackage, signal?: AbortSignal): Promise<string | undefined> {
    this.index ??= this.readIndex(signal)
    let index
    try {
      index = await this.index
    } catch (err) {
      this.index = undefined // tried again next time
      throw err
    }
    const href = index.get(key(p))
    return href === undefined ? undefined : new URL(href, this.url).href
  }

  /** Downloads a package to `path` (at most its recorded size plus a signature); false when the mirror has no such NEVRA */
  async download (p: BuildrootPackage, path: string, signal?: AbortSignal): Promise<boolean> {
    const url = await this.locate(p, signal)
    if (url === undefined) return false
    const res = await fetch(url, { signal, redirect: 'follow' })
    if (!res.ok || res.body === null) throw new MirrorError(`${url}: HTTP ${res.status}`)
    const max = p.size + SIGNATURE_ALLOWANCE
    const out = createWriteStream(path, { flags: 'wx', mode: 0o644 })
    let size = 0
    try {
      for await (const chunk of res.body) {
        size += chunk.byteLength
        if (size > max) throw new MirrorError(`${url}: more than the ${max} bytes ${packageNevra(p)} may have`)
        if (!out.write(chunk)) await new Promise<void>(resolve => out.once('drain', () => resolve()))
      }
    } finally {
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => err != null ? reject(err) : resolve()))
    }
    return true
  }
}
