/**
 * Reads a generated mock config the way mock does (mock/py/mockbuild/config.py): Python `exec` of the file
 * with `config_opts` defined, then every string option rendered as a Jinja2 template in a sandboxed
 * environment (python-templated-dictionary). Uses the system Python (/usr/bin/python3), which on Debian
 * has jinja2; where it has none, the Jinja step is reported as not done.
 */
import { execFileSync } from 'node:child_process'
import { accessSync, constants as fsConstants } from 'node:fs'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const SYSTEM_PYTHON = '/usr/bin/python3'

/** Why Python cannot read configs here, or undefined */
export function pythonMissing (): string | undefined {
  try {
    accessSync(SYSTEM_PYTHON, fsConstants.X_OK)
    return undefined
  } catch {
    return `${SYSTEM_PYTHON} not found`
  }
}

const READER = `
import json, sys
config_opts = {'macros': {}, 'plugin_conf': {'package_state_opts': {}}}
exec(open(sys.argv[1]).read())
changed = None
try:
    from jinja2 import sandbox
    env = sandbox.SandboxedEnvironment(keep_trailing_newline=True)
    changed = []
    def walk(path, v):
        if isinstance(v, str):
            if env.from_string(v).render(config_opts) != v:
                changed.append(path)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(path + [k], x)
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(path + [i], x)
    walk([], config_opts)
except ImportError:
    pass
print(json.dumps({'config_opts': config_opts, 'jinja_changed': changed}))
`

export interface ReadConfig {
  config_opts: Record<string, any>
  /** Key paths whose value a Jinja2 rendering would change; null when jinja2 is not installed */
  jinja_changed: Array<Array<string | number>> | null
}

/** Runs the config file at `path` as mock does and returns config_opts (tuples become arrays) */
export function readMockConfig (path: string): ReadConfig {
  return JSON.parse(execFileSync(SYSTEM_PYTHON, ['-c', READER, path], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } }))
}

/** The config_opts keys mock documents (test/fixtures/mock/site-defaults-keys.txt): `name` or `plugin_conf.name` */
export function documentedKeys (): Set<string> {
  const text = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'mock', 'site-defaults-keys.txt'), 'utf8')
  return new Set(text.split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#')))
}

/** The lockfile facts of test/fixtures/mock/buildroot-lock-1.1.0.json */
export function lockfileSchema (): any {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'mock', 'buildroot-lock-1.1.0.json'), 'utf8'))
}
