// TypeScript types for the mini-program's documents, from the committed schema.
// npm install && npm run codegen && npm run typecheck
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../schema.graphql',
  documents: ['documents/**/*.graphql'],
  generates: {
    'generated/graphql.ts': {
      plugins: ['typescript', 'typescript-operations'],
      config: {
        // ISO 8601 strings with a zone (UTC); Fen is an integer up to 2^53 - 1 (exact in JS).
        scalars: {
          DateTime: 'string',
          Date: 'string',
          Fen: 'number',
        },
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: true },
        strictScalars: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
