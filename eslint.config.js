import tseslint from 'typescript-eslint';

const exactMoney = {
  'no-restricted-properties': [
    'error',
    { object: 'Math', property: 'round', message: 'Money and quantities stay exact: use decimal.js.' },
    { object: 'Number', property: 'parseFloat', message: 'Money and quantities stay exact: use decimal.js.' },
  ],
  'no-restricted-globals': ['error', { name: 'parseFloat', message: 'Money and quantities stay exact: use decimal.js.' }],
};

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bench/**', 'dist-stripe-fake/**', 'node_modules/**', 'bin/**', 'scripts/**', 'eslint.config.js'] },
  {
    // console/ is the browser console (its own tsconfig.json, DOM types; bundled by scripts/build-console.mjs).
    files: ['**/*.ts', '**/*.cts', 'console/**/*.tsx'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The paths that carry quantities and money.
    files: ['core/**/*.ts', 'ingest/**/*.ts', 'metering/**/*.ts', 'catalog/**/*.ts', 'rating/**/*.ts', 'invoicing/**/*.ts', 'stripe/**/*.ts', 'stripe-fake/**/*.ts', 'webhooks/**/*.ts', 'alerts/**/*.ts', 'analytics/**/*.ts', 'demo/**/*.ts', 'app/**/*.ts', 'tenants/**/*.ts', 'http/**/*.ts', 'console/**/*.{ts,tsx}'],
    rules: exactMoney,
  },
  {
    // One decimal for the whole code (100 significant digits, half-even): decimal.js's own
    // default rounds to 20 digits, which a quantity above 10^14 with 6 decimals already exceeds.
    files: ['**/*.ts'],
    ignores: ['core/money.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'decimal.js', message: 'Take Dec from core/money.ts: one decimal at 100 digits for the whole code.' }] }],
    },
  },
  {
    // Tests read JSON responses whose shape is what they assert.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
