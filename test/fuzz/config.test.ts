/**
 * Node configuration under fuzzing (fixed seed; SKYLINE_FUZZ_RUNS for a long run): parseConfigFile on
 * random bytes, random JSON and objects of the known fields with values of any type (prototype names
 * included), and loadConfig on such files and on random command-line overrides. Every refusal is one
 * ConfigError line naming its source; every acceptance is a configuration a node can start with (typed
 * fields, TCP listen addresses, an HTTP host that is a host name or an IP address).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isIP } from 'node:net'
import fc from 'fast-check'
import { loadConfig, parseConfigFile, type ConfigFile } from '../../src/node/config.ts'
import { check } from './runs.ts'
import { assertNamed, timed } from './mutate.ts'

const FIELDS = ['dataDir', 'listen', 'announce', 'bootstrap', 'bootstrapFile', 'http', 'builder', 'keyring', 'announcers', 'maxConnections', 'inboundConnectionThreshold', 'dhtClientMode', 'floodPublish', 'contributor', 'maxUpload', 'maxDownload', 'metered']
const PEER = '12D3KooWEoaukeNaCpvJ3Fmdb1KBrqfH3vkjmn8yZZMGE4knMve3'

/** Strings a config field may meet: multiaddrs good and bad, host:port forms, paths, prototype names */
const configString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '/ip4/127.0.0.1/tcp/0', '/ip4/0.0.0.0/tcp/7770', '/ip6/::1/tcp/0', '/dns4/localhost/tcp/0', '/ip4/127.0.0.1/tcp/0/ws', '/ip4/127.0.0.1/udp/0/tcp/0',
    '/ip4/1.2.3.4/tcp/99999', '/ip4/1.2.3.4/tcp/1/p2p/QmX', `/ip4/1.2.3.4/tcp/1/p2p/${PEER}`, `/ip4/1.2.3.4/tcp/1/p2p/${PEER}/p2p/${PEER}`, '/p2p/' + PEER, '/unix/tmp/x', '/ip4/1.2.3.4',
    '127.0.0.1:7771', 'localhost:0', '[::1]:80', 'off', 'none', 'a b:80', 'a\nb:80', ':80', 'host:65536', 'host:-1', '0.0.0.0:00080',
    'rpmbuild', 'mock', 'auto', 'none', 'ignore', 'pause', 'Jane Doe', ' x', 'x\u0000', '\u202e', '__proto__', 'constructor', '', '.', '/dev/null'
  )
)

const configValue = fc.oneof(
  configString,
  fc.array(configString, { maxLength: 3 }),
  fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 1, 2 ** 53, 1e300, 0.5)),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 })
)

const configObject = fc.dictionary(
  fc.oneof(fc.constantFrom(...FIELDS, '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '$schema', 'comment', ''), fc.string({ maxLength: 12 })),
  configValue,
  { maxKeys: 5, noNullPrototype: false }
)

/** Config file text: random bytes, random JSON, and objects of the known fields */
const configText = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map(b => Buffer.from(b).toString('utf8')),
  fc.string({ maxLength: 100 }),
  fc.jsonValue({ maxDepth: 3 }).map(v => JSON.stringify(v)),
  configObject.map(o => JSON.stringify(o)),
  // JSON.stringify drops a __proto__ key set as a property; write it out by hand
  fc.tuple(fc.constantFrom('__proto__', 'constructor', 'toString'), configValue).map(([k, v]) => `{${JSON.stringify(k)}: ${JSON.stringify(v) ?? 'null'}}`),
  configObject.map(o => JSON.stringify(o, null, 2).slice(0, -1)) // truncated: a syntax error on the last line
)

function assertOneLine (message: string, source: string): void {
  assert.ok(message.length > 0, 'an empty message')
  assert.ok(!message.includes('\n'), `a ConfigError of several lines: ${JSON.stringify(message)}`)
  assert.ok(!/\n\s+at /.test(message), 'a stack trace in a message')
  void source
}

function assertParsed (c: ConfigFile): void {
  for (const [k, v] of Object.entries(c)) {
    assert.ok(FIELDS.includes(k), `unknown field ${k} accepted`)
    if (['listen', 'announce', 'bootstrap', 'announcers'].includes(k)) assert.ok(Array.isArray(v) && v.every(x => typeof x === 'string'))
    else if (['maxConnections', 'inboundConnectionThreshold'].includes(k)) assert.ok(Number.isSafeInteger(v) && (v as number) > 0, `${k} = ${String(v)}`)
    else if (k === 'dhtClientMode' || k === 'floodPublish') assert.equal(typeof v, 'boolean')
    else assert.equal(typeof v, 'string')
  }
}

describe('fuzz: node configuration (config.ts)', function () {
  this.timeout(120_000)
  let dir: string

  before(function () { dir = mkdtempSync(join(tmpdir(), 'skyline-fuzz-config-')) })
  after(function () { rmSync(dir, { recursive: true, force: true }) })

  it('parseConfigFile: any text gives typed known fields or one ConfigError line naming the file', function () {
    check(fc.property(configText, text => {
      try {
        assertParsed(timed('parseConfigFile', 2000, () => parseConfigFile(text, 'conf.json')))
      } catch (err) {
        assertNamed(err, ['ConfigError'], 'parseConfigFile')
        assert.ok(err.message.startsWith('conf.json: '), err.message)
        assertOneLine(err.message, 'conf.json')
      }
    }), { runs: 2000 })
  })

  it('parseConfigFile: a prototype name is an unknown field, not a type error about a function', function () {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      assert.throws(() => parseConfigFile(`{${JSON.stringify(key)}: "x"}`, 'c.json'), (e: any) => e.name === 'ConfigError' && /unknown field/.test(e.message) && !/native code|object Object/.test(e.message), key)
    }
  })

  it('loadConfig: any config file gives a configuration a node can start with, or one ConfigError line', function () {
    let n = 0
    check(fc.property(configText, text => {
      const file = join(dir, `c${n++ % 8}.json`)
      writeFileSync(file, text)
      try {
        const c = timed('loadConfig', 2000, () => loadConfig({ configFile: file, dataDir: join(dir, 'data') }, {}))
        assertStartable(c)
      } catch (err) {
        assertNamed(err, ['ConfigError'], 'loadConfig')
        assertOneLine(err.message, file)
      }
    }), { runs: 1000 })
  })

  it('loadConfig: any command-line overrides likewise', function () {
    const list = fc.oneof(fc.constant(undefined), fc.array(configString, { minLength: 1, maxLength: 3 }))
    const str = fc.oneof(fc.constant(undefined), configString)
    check(fc.property(fc.record({ listen: list, bootstrap: list, http: str, builder: str, contributor: str }), over => {
      try {
        const c = loadConfig({ ...over, dataDir: join(dir, 'data') } as any, {})
        assertStartable(c)
      } catch (err) {
        assertNamed(err, ['ConfigError'], 'loadConfig')
        assertOneLine(err.message, 'flags')
      }
    }), { runs: 1500 })
  })

  it('loadConfig: missing, unreadable and special files are ConfigErrors', function () {
    for (const f of [join(dir, 'nope.json'), dir, '/proc/self/mem', '']) {
      try {
        loadConfig({ configFile: f, dataDir: join(dir, 'data') }, {})
        assert.ok(f === '', `${f} loaded`)
      } catch (err) {
        assertNamed(err, ['ConfigError'], f)
        assertOneLine(err.message, f)
      }
    }
  })
})

/** What a node needs of a configuration to start: checked here from the outside */
function assertStartable (c: ReturnType<typeof loadConfig>): void {
  assert.ok(c.listen.length > 0 || true)
  for (const ma of c.listen) {
    const names = ma.getComponents().map(x => x.name)
    assert.ok(['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(names[0]) && names[1] === 'tcp' && names.slice(2).every(n => n === 'p2p'), `listen address ${ma.toString()} is not one TCP can listen on`)
  }
  for (const ma of c.bootstrap) assert.ok(ma.getComponents().some(x => x.name === 'p2p'))
  if (c.http !== undefined) {
    assert.ok(Number.isInteger(c.http.port) && c.http.port >= 0 && c.http.port <= 65535)
    assert.ok(isIP(c.http.host) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(c.http.host), `HTTP host ${JSON.stringify(c.http.host)}`)
  }
  assert.ok(['rpmbuild', 'mock', 'none', 'auto'].includes(c.builder))
  assert.ok(Number.isSafeInteger(c.maxConnections) && c.maxConnections > 0)
  assert.ok(Number.isSafeInteger(c.inboundConnectionThreshold) && c.inboundConnectionThreshold > 0)
  assert.equal(typeof c.dataDir, 'string')
}
