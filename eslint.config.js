import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', 'docs/**', 'node_modules/**', 'scratch/**', 'outputs/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A library must never depend on an app.
      'no-restricted-imports': ['error', { patterns: ['@tumorcast/train', '@tumorcast/predict', '**/apps/**'] }],
    },
  },
);
