// One YAML document parsed with positions, for files users edit (the config, the tokens file):
// problems are reported as file:line:col, and a syntax error fails with the first one's position.

import { LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { GatewayError, type ErrorKey } from './errors.js';

export interface PositionedDocument {
  readonly doc: Document.Parsed;
  /** `file:line:col` of a node, or `file` when it has no position. */
  at(node: YamlNode | null | undefined): string;
}

export function parseYamlFile(text: string, file: string, errorKey: ErrorKey): PositionedDocument {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (node: YamlNode | null | undefined): string => {
    const offset = node?.range?.[0];
    if (offset === undefined) return file;
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const { line, col } = lines.linePos(e.pos[0]);
    // The library's own advice for this one ("use YAML.parseAllDocuments()") is not for users.
    const first = e.code === 'MULTIPLE_DOCS' ? 'the file holds more than one document (a "---" line); keep one' : e.message.split('\n')[0];
    throw new GatewayError(errorKey, `${file}:${line}:${col}: invalid YAML: ${first}`);
  }
  return { doc, at };
}
