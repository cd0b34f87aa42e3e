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
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', 'scripts/**', 'eslint.config.js'] },
  {
    files: ['**/*.ts'],
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
    files: ['core/**/*.ts', 'ingest/**/*.ts', 'aggregator/**/*.ts', 'catalog/**/*.ts', 'rater/**/*.ts', 'billing-sync/**/*.ts', 'notify/**/*.ts', 'alerts/**/*.ts', 'analytics/**/*.ts', 'demo/**/*.ts', 'api/**/*.ts'],
    rules: exactMoney,
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
