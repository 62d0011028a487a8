/**
 * How the binary RPMs leave the sandbox: not through any path the build can name, but as a stream on a
 * file descriptor (OUTPUT_FD) that a small shell script writes after rpmbuild has exited, and that the
 * node parses as untrusted input into its own output directory (outputs.ts OutputSink).
 *
 * The stream: per file a header line `F <size> <base name in lowercase hex>\n` and exactly `size` bytes,
 * then `E\n`. rpmbuild runs with OUTPUT_FD closed; the script takes only regular files (`find -type f`,
 * which follows no link), and a stream that ends without `E` is an incomplete one.
 */
import { OUTPUT_FD } from './constants.ts'
import { OutputRefusedError, type OutputSink } from './outputs.ts'

/** Exit status of OUTPUT_SCRIPT when rpmbuild succeeded but its outputs could not be written to the stream */
export const OUTPUTS_FAILED_EXIT = 97

/**
 * `sh -c` script: `$1` is the RPMS directory, the rest the rpmbuild command. Exits with rpmbuild's status
 * when it failed; OUTPUTS_FAILED_EXIT when the outputs could not be written to the stream.
 */
export const OUTPUT_SCRIPT = `rpms=$1; shift
"$@" ${OUTPUT_FD}>&-
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
if [ -e "$rpms" ] || [ -L "$rpms" ]; then
  find "$rpms" -type f -name '*.rpm' ! -name '*.src.rpm' -exec sh -c '
    for f do
      s=$(stat -c %s -- "$f") || exit 1
      printf "F %s " "$s"
      printf %s "\${f##*/}" | od -An -v -tx1 | tr -d " \\n"
      printf "\\n"
      head -c "$s" -- "$f" || exit 1
    done' skyline-outputs {} + >&${OUTPUT_FD} || exit ${OUTPUTS_FAILED_EXIT}
fi
printf 'E\\n' >&${OUTPUT_FD}
`

/** A header is at most this long: a name of up to 1 KiB (longer than any file system allows) in hex */
const MAX_HEADER_BYTES = 2 * 1024 + 32
const HEADER_RE = /^F (\d{1,16}) ((?:[0-9a-f]{2})+)$/

/**
 * Reads the stream into `sink`. Resolves `{ complete }` (whether the end marker came) at the end of the
 * stream; throws OutputRefusedError for a malformed stream or an output the sink refuses.
 */
export async function receiveOutputs (stream: AsyncIterable<Buffer>, sink: OutputSink): Promise<{ complete: boolean }> {
  const reader = new StreamReader(stream)
  for (;;) {
    const line = await reader.line(MAX_HEADER_BYTES)
    if (line === undefined) return { complete: false }
    if (line === 'E') {
      if (!await reader.ended()) throw new OutputRefusedError('data after the end of the output stream')
      return { complete: true }
    }
    const m = HEADER_RE.exec(line)
    if (m === null) throw new OutputRefusedError(`malformed output stream: ${JSON.stringify(line.slice(0, 80))}`)
    const raw = Buffer.from(m[2], 'hex')
    const name = raw.toString('utf8')
    if (!Buffer.from(name, 'utf8').equals(raw)) throw new OutputRefusedError(`an output RPM's name is not UTF-8 (${m[2].slice(0, 160)}): it cannot be attested`)
    const size = Number(m[1])
    await sink.add(name, size, reader.bytes(size))
  }
}

/** Lines and byte runs from a stream of chunks */
class StreamReader {
  private readonly chunks: AsyncIterator<Buffer>
  private pending: Buffer = Buffer.alloc(0)
  private done = false

  constructor (stream: AsyncIterable<Buffer>) {
    this.chunks = stream[Symbol.asyncIterator]()
  }

  /** The next line without its newline; undefined at the end of the stream */
  async line (max: number): Promise<string | undefined> {
    for (;;) {
      const nl = this.pending.indexOf(0x0a)
      if (nl >= 0) {
        const line = this.pending.subarray(0, nl).toString('latin1')
        this.pending = this.pending.subarray(nl + 1)
        return line
      }
      if (this.pending.length > max) throw new OutputRefusedError(`an output header is longer than ${max} bytes`)
      if (!await this.fill()) {
        if (this.pending.length > 0) throw new OutputRefusedError('the output stream ends inside a header')
        return undefined
      }
    }
  }

  /** Up to `n` bytes, as they come (fewer when the stream ends first) */
  async * bytes (n: number): AsyncGenerator<Buffer> {
    let left = n
    while (left > 0) {
      if (this.pending.length === 0 && !await this.fill()) return
      const take = this.pending.subarray(0, left)
      this.pending = this.pending.subarray(take.length)
      left -= take.length
      yield take
    }
  }

  /** Whether nothing follows */
  async ended (): Promise<boolean> {
    return this.pending.length === 0 && !await this.fill()
  }

  private async fill (): Promise<boolean> {
    if (this.done) return false
    const next = await this.chunks.next()
    if (next.done === true) {
      this.done = true
      return false
    }
    this.pending = this.pending.length === 0 ? next.value : Buffer.concat([this.pending, next.value])
    return true
  }
}
