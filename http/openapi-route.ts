import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../core/paths.js';
import type { Route } from './types.js';
import { openApiDocument, type Catalogue } from './openapi.js';
import { json } from './openapi-doc.js';
import { shape } from './openapi-shapes.js';

const OpenApiDocument = shape('OpenApiDocument', { type: 'object', description: 'This document.' });

/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of `routes()`. It is asked for the list on the
 * first request (by then the route table, this route included, is complete), and the document
 * is built once and kept as JSON text.
 */
export function openApiRoute(routes: () => readonly Route[], catalogue: Catalogue): Route {
  let text: string | undefined;
  return {
    method: 'GET',
    pattern: '/openapi.json',
    access: 'public',
    doc: {
      operationId: 'getOpenApiDocument',
      tag: 'System',
      summary: 'This OpenAPI document',
      description: 'Generated from the route table and the schemas that validate request bodies.',
      responses: { 200: json('The OpenAPI 3.1 document.', OpenApiDocument) },
    },
    handler: () => {
      text ??= JSON.stringify(openApiDocument(routes(), catalogue, packageInfo()));
      return { status: 200, body: text, contentType: 'application/json' };
    },
  };
}

function packageInfo(): { version: string; license?: string } {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string; license?: string };
  return pkg.license === undefined ? { version: pkg.version } : { version: pkg.version, license: pkg.license };
}
