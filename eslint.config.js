// Lint and format rules for src, test, bench and scripts: typescript-eslint's recommended rules, and
// @stylistic's rules for the project's layout (2 spaces, no semicolons, single quotes, a space before
// a function's parentheses). `npm run lint` checks both; `npm run format` fixes what it can.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import stylistic from '@stylistic/eslint-plugin'

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'src/protocols/pb/*.ts', '.skyline-*/**', 'skyline-demo-repo/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  stylistic.configs.customize({ indent: 2, quotes: 'single', semi: false, braceStyle: '1tbs', commaDangle: 'never', arrowParens: false }),
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', performance: 'readonly',
        AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly',
        URL: 'readonly', fetch: 'readonly', CustomEvent: 'readonly', EventTarget: 'readonly', structuredClone: 'readonly',
        queueMicrotask: 'readonly', crypto: 'readonly', globalThis: 'readonly', WebAssembly: 'readonly', Event: 'readonly',
        document: 'readonly', window: 'readonly', navigator: 'readonly', location: 'readonly', HTMLElement: 'readonly'
      }
    },
    rules: {
      // the code base uses `any` at untyped boundaries (caught errors, libp2p internals) on purpose
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      '@stylistic/space-before-function-paren': ['error', 'always'],
      '@stylistic/max-statements-per-line': 'off',
      '@stylistic/operator-linebreak': 'off',
      '@stylistic/multiline-ternary': 'off',
      '@stylistic/max-len': 'off',
      '@stylistic/list-style': 'off',
      '@stylistic/arrow-parens': ['error', 'as-needed'],
      '@stylistic/quote-props': ['error', 'as-needed'],
      '@stylistic/generator-star-spacing': 'off',
      '@stylistic/indent-binary-ops': 'off',
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true }]
    }
  }
)
