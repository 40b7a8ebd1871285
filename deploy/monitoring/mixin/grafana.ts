// A small builder for Grafana dashboard JSON (schemaVersion 39): rows of time-series panels laid out
// left to right, each query with its legend. Enough for these dashboards, no grafonnet needed.

export interface Query {
  readonly expr: string;
  readonly legend: string;
}

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly queries: readonly Query[];
  /** Grid columns of 24; default 8 (three per row). */
  readonly width?: number;
}

export interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly rows: readonly RowSpec[];
}

const PANEL_HEIGHT = 8;
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

export const q = (expr: string, legend: string): Query => ({ expr, legend });

export function dashboard(spec: DashboardSpec): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    panels.push({ type: 'row', id: id++, title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    for (const p of row.panels) {
      const w = p.width ?? 8;
      if (x + w > 24) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push({
        type: 'timeseries',
        id: id++,
        title: p.title,
        description: p.description,
        datasource: DATASOURCE,
        gridPos: { h: PANEL_HEIGHT, w, x, y },
        fieldConfig: { defaults: { unit: p.unit, custom: { fillOpacity: 10, showPoints: 'never' } }, overrides: [] },
        options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
        targets: p.queries.map((t, i) => ({ datasource: DATASOURCE, expr: t.expr, legendFormat: t.legend, refId: String.fromCharCode(65 + i) })),
      });
      x += w;
    }
    y += PANEL_HEIGHT;
  }
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['metrics-gateway'],
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    timezone: 'utc',
    templating: {
      list: [{ name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0 }],
    },
    annotations: { list: [] },
    links: [{ title: 'Metrics gateway', type: 'dashboards', tags: ['metrics-gateway'], asDropdown: true }],
    panels,
  };
}

/** Every query of a dashboard, with the panel it belongs to (tests run each one). */
export function queriesOf(d: DashboardSpec): Array<{ panel: string; expr: string }> {
  return d.rows.flatMap((r) => r.panels.flatMap((p) => p.queries.map((t) => ({ panel: `${d.title} / ${r.title} / ${p.title}`, expr: t.expr }))));
}
