/**
 * The node's HTTP server under fuzzing (fixed seed; SKYLINE_FUZZ_RUNS for a long run), whatever routes
 * it has: random methods, paths, query strings and headers through a real HTTP client; raw malformed
 * request bytes over a socket (bad request lines and versions, bare LF, NUL bytes, huge headers, lying
 * lengths, pipelining, half-closes); and slowloris connections that dribble partial headers. No
 * response is a 5xx; error bodies are JSON with an `error` field; no body carries a stack trace; every
 * response carries the security headers; and GET /status answers within a second throughout.
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { rmSync } from 'node:fs'
import fc from 'fast-check'
import type { SkylineNode } from '../../src/node/index.ts'
import { startNode } from '../helpers/mesh.ts'
import { checkAsync, STRESS } from './runs.ts'

const STACK_RE = /\n\s+at .+[:(]\d+:\d+\)?/
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'SEARCH', 'QUERY', 'get', 'Get']

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }

/** Requests node:http's parser refused before the node saw them (a method it does not know, say) */
export const parserRejections = { count: 0 }

/** Responses as the server documents them: below 500, JSON errors, security headers, no stack traces */
function assertSane (what: string, a: Answer, method: string): void {
  assert.ok(a.status >= 100 && a.status < 500, `${what}: status ${a.status}: ${a.body.toString('utf8').slice(0, 300)}`)
  const text = a.body.toString('utf8')
  assert.ok(!STACK_RE.test(text), `${what}: a stack trace in the body: ${text.slice(0, 500)}`)
  if (a.headers['x-content-type-options'] === undefined) {
    // not the node's answer: node:http's default 'clientError' reply (400, 408, 413 or 431, empty, closing)
    assert.ok([400, 408, 413, 431].includes(a.status) && a.body.length === 0, `${what}: an answer without the node's headers: ${a.status} ${text.slice(0, 200)}`)
    parserRejections.count++
    return
  }
  if (a.status >= 400 && method !== 'HEAD') {
    assert.match(String(a.headers['content-type']), /^application\/json/, `${what}: an error that is not JSON`)
    const body = JSON.parse(text)
    assert.equal(typeof body.error, 'string', `${what}: an error body without 'error'`)
  }
  if (a.status === 405) assert.ok(a.headers.allow !== undefined, `${what}: 405 without Allow`)
  assert.equal(a.headers['x-content-type-options'], 'nosniff', `${what}: missing nosniff`)
  assert.match(String(a.headers['content-security-policy']), /default-src/, `${what}: missing the CSP`)
}

async function httpRequest (url: string, method: string, headers: Record<string, string>, body?: Uint8Array): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    // a connection per request (agent: false): keep-alive reuse races belong to the client, not the server
    const req = request(url, { method, headers, agent: false, signal: AbortSignal.timeout(5_000), insecureHTTPParser: false }, res => {
      const chunks: Buffer[] = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Writes raw bytes on a socket; the status line that comes back (if any) and everything else */
async function raw (port: number, parts: Uint8Array[], opts: { endAfter?: boolean, waitMs?: number } = {}): Promise<{ statuses: number[], text: string, closed: boolean }> {
  return await new Promise(resolve => {
    const socket: Socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let closed = false
    const finish = (): void => {
      clearTimeout(timer)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map(m => Number(m[1]))
      resolve({ statuses, text, closed })
    }
    const timer = setTimeout(finish, opts.waitMs ?? 300)
    socket.on('data', c => chunks.push(c))
    socket.on('error', () => {})
    socket.on('close', () => { closed = true; finish() })
    socket.on('connect', () => {
      for (const p of parts) socket.write(p)
      if (opts.endAfter === true) socket.end()
    })
  })
}

const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/)
/** Header values a client can send: visible ASCII and spaces (no CR, LF or NUL) */
const headerValue = fc.oneof(fc.stringMatching(/^[\x20-\x7e]{0,60}$/), fc.constantFrom('', '*', 'W/"x"', '"x"', 'gzip', '127.0.0.1', 'localhost', 'x'.repeat(4000)))

const path = fc.oneof(
  fc.webPath(),
  fc.constantFrom('/', '/status', '/api/status', '/api/stats', '/metrics', '/leaderboard', '/dashboard.js', '/favicon.svg', '//status', '/status/', '/STATUS', '/./status', '/../status', '/%2e%2e/', '/%', '/%zz', '/%00', '/%ff%fe', '/\u00e9', '/api/', '/api/stats/x', '/' + 'a'.repeat(8000)),
  fc.string({ maxLength: 30 }).map(s => '/' + encodeURIComponent(s))
)
const query = fc.oneof(fc.constant(''), fc.webQueryParameters().map(q => `?${q}`), fc.constantFrom('?', '??', '?a=%', '?a=%zz&b', '?' + 'q=1&'.repeat(500), '?__proto__=1', '?job=../../etc/passwd'))

describe('fuzz: the node HTTP server (http.ts)', function () {
  this.timeout(STRESS ? 0 : 120_000)
  let node: SkylineNode
  let url: string
  let port: number

  before(async function () {
    node = await startNode({ builder: 'none', http: '127.0.0.1:0' })
    url = node.httpUrl!
    port = Number(new URL(url).port)
  })

  after(async function () {
    if (node !== undefined) {
      await node.stop()
      rmSync(node.config.dataDir, { recursive: true, force: true })
    }
  })

  async function statusAnswers (): Promise<void> {
    const t0 = Date.now()
    const a = await httpRequest(`${url}/status`, 'GET', {})
    assert.equal(a.status, 200)
    assert.equal(JSON.parse(a.body.toString()).peerId, node.peerId)
    assert.ok(Date.now() - t0 < 1_000, `GET /status took ${Date.now() - t0} ms`)
  }

  it('random methods, paths, query strings and headers: never a 5xx, JSON errors, no stack traces', async function () {
    let i = 0
    const seen = new Set<number>()
    await checkAsync(fc.asyncProperty(
      fc.oneof(fc.constantFrom(...METHODS), token),
      path, query,
      fc.dictionary(token.filter(t => !/^(content-length|transfer-encoding|connection|expect|upgrade|host)$/i.test(t)), headerValue, { maxKeys: 5 }),
      fc.constantFrom(undefined, '127.0.0.1', `127.0.0.1:${0}`, 'localhost', 'LOCALHOST:1', '[::1]:80', 'evil.example', 'evil.example:80', '127.0.0.1.nip.io', '', '[', '[::1', ':80', '0x7f.1'),
      fc.oneof(fc.constant(undefined), fc.uint8Array({ maxLength: 300 })),
      async (method, p, q, headers, host, body) => {
        if (method === 'CONNECT') return // a tunnel, not a request: node:http hands it to 'connect' listeners (none: the socket closes)
        const h: Record<string, string> = { ...headers }
        if (host !== undefined) h.host = host === `127.0.0.1:${0}` ? `127.0.0.1:${port}` : host
        const a = await httpRequest(`${url}${p}${q}`, method, h, method === 'GET' || method === 'HEAD' ? undefined : body)
        seen.add(a.status)
        assertSane(`${method} ${p}${q} host=${String(host)}`, a, method)
        if (++i % 50 === 0) await statusAnswers()
      }), { runs: 300, cost: 20 })
    if (process.env.DEBUG_FUZZ !== undefined) process.stderr.write(`statuses ${[...seen].join(' ')}; refused by node:http's parser: ${parserRejections.count}\n`)
    // the property saw the server succeed and refuse
    assert.ok(seen.has(200) && seen.has(404) && seen.has(405), `statuses seen: ${[...seen].join(', ')}`)
    await statusAnswers()
  })

  it('raw malformed requests over a socket: a 4xx or a closed connection, never a 5xx; /status still answers', async function () {
    const line = fc.oneof(
      fc.constantFrom(
        'GET / HTTP/1.1', 'GET /status HTTP/1.1', 'GET /status HTTP/1.0', 'GET /status HTTP/2.0', 'GET /status HTTP/9.9', 'GET /status HTTP/1.1x',
        'GET /status', 'GET', '/status HTTP/1.1', 'GET  /status  HTTP/1.1', 'GET\t/status\tHTTP/1.1', 'FOO /status HTTP/1.1',
        'CONNECT 127.0.0.1:1 HTTP/1.1', 'GET http://127.0.0.1/status HTTP/1.1', 'GET * HTTP/1.1', 'PRI * HTTP/2.0',
        'GET /\x00 HTTP/1.1', 'GET /\u00ff HTTP/1.1', 'G\x00ET / HTTP/1.1', 'GET /' + 'a'.repeat(70_000) + ' HTTP/1.1'
      ),
      fc.string({ unit: 'binary-ascii', maxLength: 60 })
    )
    const header = fc.oneof(
      fc.constantFrom(
        'Host: 127.0.0.1', 'Host: evil.example', 'Host:', 'Host: a\x00b', 'Host: 127.0.0.1\r\nHost: evil.example', 'Content-Length: 10', 'Content-Length: -1',
        'Content-Length: 99999999999999999999', 'Content-Length: 1, 2', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: chunked\r\nContent-Length: 3',
        'Expect: 100-continue', 'Expect: something', 'Connection: upgrade\r\nUpgrade: websocket', 'Connection: close', ' leading-space: x', 'no-colon', ': no-name',
        'X-Big: ' + 'x'.repeat(20_000), 'If-None-Match: ' + '"x", '.repeat(1000)
      ),
      fc.string({ unit: 'binary-ascii', maxLength: 40 }),
      fc.tuple(token, fc.stringMatching(/^[\x20-\x7e]{0,40}$/)).map(([k, v]) => `${k}: ${v}`)
    )
    const request = fc.record({
      line,
      headers: fc.array(header, { maxLength: 6 }),
      eol: fc.constantFrom('\r\n', '\n', '\r'),
      body: fc.oneof(fc.constant(''), fc.string({ unit: 'binary-ascii', maxLength: 80 }), fc.constant('5\r\nhello\r\n0\r\n\r\n'), fc.constant('zz\r\n')),
      finish: fc.constantFrom('complete', 'complete', 'truncated', 'pipelined', 'half-close')
    })
    let i = 0
    let answered = 0
    await checkAsync(fc.asyncProperty(request, async r => {
      const head = [r.line, ...r.headers].join(r.eol)
      let text = r.finish === 'truncated' ? head : `${head}${r.eol}${r.eol}${r.body}`
      if (r.finish === 'pipelined') text += 'GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
      const res = await raw(port, [Buffer.from(text, 'latin1')], { endAfter: r.finish === 'half-close' })
      for (const s of res.statuses) assert.ok(s < 500, `a ${s} to ${JSON.stringify(text.slice(0, 200))}: ${res.text.slice(0, 300)}`)
      assert.ok(!STACK_RE.test(res.text), `a stack trace in: ${res.text.slice(0, 500)}`)
      if (res.statuses.length > 0) answered++
      if (++i % 30 === 0) await statusAnswers()
    }), { runs: 200, cost: 20 })
    assert.ok(answered > 0)
    await statusAnswers()
  })

  it('random bytes as a request: never a 5xx, never a stack trace', async function () {
    await checkAsync(fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.boolean(), async (bytes, prefix) => {
      const parts = prefix ? [Buffer.from('GET /'), bytes] : [bytes]
      const res = await raw(port, parts, { endAfter: true, waitMs: 150 })
      for (const s of res.statuses) assert.ok(s < 500, `a ${s} to ${Buffer.from(bytes).toString('hex').slice(0, 100)}`)
      assert.ok(!STACK_RE.test(res.text))
    }), { runs: 100, cost: 20 })
    await statusAnswers()
  })

  it('slowloris: connections dribbling partial headers do not hold /status up', async function () {
    const sockets: Socket[] = []
    const timers: Array<ReturnType<typeof setInterval>> = []
    try {
      for (let i = 0; i < 40; i++) {
        const s = connect(port, '127.0.0.1')
        s.on('error', () => {})
        sockets.push(s)
        s.on('connect', () => {
          s.write(`GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-${i}: `)
          timers.push(setInterval(() => { if (!s.destroyed) s.write('a') }, 50))
        })
      }
      // a huge header arriving slowly, and a request whose body never comes
      const big = connect(port, '127.0.0.1')
      big.on('error', () => {})
      sockets.push(big)
      big.on('connect', () => { big.write(`GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(8000)}`) })
      const body = connect(port, '127.0.0.1')
      body.on('error', () => {})
      sockets.push(body)
      body.on('connect', () => { body.write('POST /status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nabc') })
      await new Promise(resolve => setTimeout(resolve, 300))
      for (let k = 0; k < 5; k++) {
        await statusAnswers()
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    } finally {
      for (const t of timers) clearInterval(t)
      for (const s of sockets) s.destroy()
    }
    await statusAnswers()
  })

  // A bug in src/node/http.ts the fuzzing found (a file this suite may not change): fails until fixed.
  it('a connection dribbling its headers is cut off after the 5 s headers timeout, not 30 s later', async function () {
    this.timeout(30_000)
    const t0 = Date.now()
    const s = connect(port, '127.0.0.1')
    s.on('error', () => {})
    s.on('connect', () => { s.write('GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ') })
    const dribble = setInterval(() => { if (!s.destroyed) s.write('a') }, 200)
    try {
      // node:http checks headersTimeout only every connectionsCheckingInterval (30 s by default)
      const closed = await new Promise<boolean>(resolve => {
        s.on('close', () => resolve(true))
        setTimeout(() => resolve(false), 9_000)
      })
      assert.ok(closed, `a slowloris connection was still open after ${Date.now() - t0} ms (headers timeout 5 s)`)
    } finally {
      clearInterval(dribble)
      s.destroy()
    }
  })
})
