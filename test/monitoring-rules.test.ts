// The monitoring mixin (deploy/monitoring/): generated files match their source, promtool accepts the
// rules and passes their unit tests, every alert is tested and has a runbook section.
// (Every panel and rule expression against a real Prometheus: test/monitoring-e2e.test.ts.)

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generatedFiles } from '../deploy/monitoring/mixin/generate.js';
import { alertRules } from '../deploy/monitoring/mixin/rules.js';

const DIR = fileURLToPath(new URL('../deploy/monitoring/', import.meta.url));
const RULE_FILES = ['rules/metrics-gateway.rules.yaml', 'rules/metrics-gateway.alerts.yaml'].map((f) => join(DIR, f));
const TESTS = join(DIR, 'tests/metrics-gateway.alerts.test.yaml');

function promtool(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool: ${r.error.message} (it ships with Debian's prometheus package; .ci/run installs it)`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('monitoring mixin', () => {
  it('the committed dashboards and rules are what the mixin source generates (npm run monitoring)', () => {
    for (const [path, content] of generatedFiles()) {
      expect(readFileSync(join(DIR, path), 'utf8'), `deploy/monitoring/${path} is stale: run npm run monitoring`).toBe(content);
    }
  });

  it('promtool check rules accepts every rule file', () => {
    const r = promtool(['check', 'rules', ...RULE_FILES]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`SUCCESS: ${alertRules.length} rules found`);
  });

  it('promtool test rules passes, and every alert has a case where it fires', () => {
    const r = promtool(['test', 'rules', TESTS]);
    expect(r.code, r.out).toBe(0);
    const tests = parse(readFileSync(TESTS, 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
    const firing = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    const quiet = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname)));
    for (const a of alertRules) {
      expect(firing.has(a.alert), `${a.alert} has no promtool case where it fires`).toBe(true);
      expect(quiet.has(a.alert), `${a.alert} has no promtool case where it stays quiet`).toBe(true);
    }
  });

  it('every alert links its runbook section, and every section belongs to an alert', () => {
    const runbooks = readFileSync(join(DIR, 'runbooks.md'), 'utf8');
    const sections = [...runbooks.matchAll(/^## (\S+)$/gm)].map((m) => m[1]);
    expect(sections.sort()).toEqual(alertRules.map((a) => a.alert).sort());
    for (const a of alertRules) {
      expect(a.annotations.runbook_url).toBe(`deploy/monitoring/runbooks.md#${a.alert.toLowerCase()}`);
      expect(a.annotations.summary.length).toBeGreaterThan(0);
    }
  });

  it('dashboards have unique panel ids, a Prometheus data source variable and a query in every panel', () => {
    for (const [path, content] of generatedFiles()) {
      if (!path.endsWith('.json')) continue;
      const d = JSON.parse(content) as { uid: string; panels: Array<{ id: number; type: string; targets?: Array<{ expr: string }> }>; templating: { list: Array<{ name: string; query: string }> } };
      expect(path).toBe(`dashboards/${d.uid}.json`);
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(d.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', query: 'prometheus' }));
      for (const p of d.panels.filter((x) => x.type !== 'row')) expect(p.targets?.length ?? 0).toBeGreaterThan(0);
    }
  });
});
