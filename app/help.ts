import { display } from '../core/config-schema.js';
import { allFlags, META_FLAGS } from './config.js';

const TYPE_WORD: Readonly<Record<string, string>> = { string: 'string', int: 'int', duration: 'duration', bytes: 'bytes', bool: '' };

/** Go flag package style: every flag, its value type, description and default. */
export function helpText(): string {
  const lines = ['Usage of metrics-gateway:'];
  for (const m of META_FLAGS) {
    const def: string = m.default;
    lines.push(`  -${m.name}${m.isBool ? '' : ' string'}`, `    \t${m.help}${def !== '' && def !== 'false' ? ` (default ${def})` : ''}`);
  }
  for (const f of allFlags()) {
    const def = display(f.field, f.field.default);
    const shown = def === '' || def === false ? '' : ` (default ${typeof def === 'string' ? JSON.stringify(def) : def})`;
    const word = TYPE_WORD[f.field.type] ?? '';
    lines.push(`  -${f.name}${word ? ` ${word}` : ''}`, `    \t${f.field.help}${shown}`);
  }
  lines.push('', 'Commands:', '  metrics-gateway tokens mint -id=<id> -tenant=<tenant> -scope=<scope>[,<scope>] [-expires-in=<duration>]', '    \tMint an access token for -auth.type=token: prints the secret once and the tokens-file entry (see `tokens mint -help`).');
  return lines.join('\n') + '\n';
}
