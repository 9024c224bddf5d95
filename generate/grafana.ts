/**
 * The dashboard JSON model as Grafana publishes it in @grafana/schema: the dashboard, its
 * variables, annotations and links from the dashboard schema, each panel's options and field
 * config from that panel plugin's schema. @grafana/schema types a panel's options, custom field
 * config and queries as open records; these types close them, so that a field Grafana does not
 * know, or a value of the wrong kind, is a compile error in the generators.
 */
import type {
  AnnotationQuery,
  Dashboard,
  DataQuery,
  FieldConfig,
  FieldConfigSource,
  Panel,
  RowPanel,
  VariableModel,
} from '@grafana/schema';
import { defaultDashboard } from '@grafana/schema';
import type * as heatmap from '@grafana/schema/dist/esm/raw/composable/heatmap/panelcfg/x/HeatmapPanelCfg_types.gen';
import type * as stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as timeseries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/**
 * The dashboard schema version of the types above: the JSON says the version its shape follows,
 * so Grafana runs only the migrations written after it.
 */
export const SCHEMA_VERSION: number = defaultDashboard.schemaVersion;

/**
 * A Prometheus query, as the Prometheus data source's own schema (dataquery.cue, which
 * @grafana/schema does not ship) defines the fields these dashboards use.
 */
export interface PromQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  /** `heatmap` turns cumulative `le` buckets into one count per bucket, sorted by bound */
  format?: 'time_series' | 'table' | 'heatmap';
  interval?: string;
  exemplar?: boolean;
  editorMode?: 'code' | 'builder';
}

/** A panel of one plugin: its options and custom field config as that plugin's schema types them. */
type PanelOf<Type extends string, Options, Custom> = Omit<
  Panel,
  'type' | 'options' | 'fieldConfig' | 'targets'
> & {
  type: Type;
  options: Options;
  fieldConfig: Omit<FieldConfigSource, 'defaults'> & {
    // Grafana merges the plugin's defaults into every field: only what differs is written.
    defaults: Omit<FieldConfig, 'custom'> & { custom?: Partial<Custom> };
  };
  targets: PromQuery[];
};

export type TimeSeriesPanel = PanelOf<'timeseries', timeseries.Options, timeseries.FieldConfig>;
/** The stat panel has no custom field config. */
export type StatPanel = PanelOf<'stat', stat.Options, Record<never, never>>;
export type TablePanel = PanelOf<'table', table.Options, table.FieldConfig>;
export type HeatmapPanel = PanelOf<'heatmap', heatmap.Options, heatmap.FieldConfig>;
export type DashboardPanel = TimeSeriesPanel | StatPanel | TablePanel | HeatmapPanel;

/** A row; collapsed, it holds its panels, which query nothing until the row is opened. */
export type DashboardRow = Omit<RowPanel, 'panels'> & { panels: DashboardPanel[] };

/**
 * A query variable as Grafana saves it: `definition` is the query text its editor shows, kept in
 * the saved model though the dashboard schema does not list it.
 */
export type QueryVariable = VariableModel & { type: 'query'; definition: string };

/**
 * A Prometheus annotation: the query in `target`, and the fields the Prometheus data source reads
 * beside it to title and place each event.
 */
export type PromAnnotation = AnnotationQuery<PromQuery> & {
  titleFormat?: string;
  textFormat?: string;
  tagKeys?: string;
  useValueForTime?: boolean;
};

export type GrafanaDashboard = Omit<Dashboard, 'panels' | 'templating' | 'annotations'> & {
  panels: Array<DashboardPanel | DashboardRow>;
  templating: { list: VariableModel[] };
  annotations: { list: Array<AnnotationQuery | PromAnnotation> };
};

/** Every panel of a dashboard, those inside collapsed rows too, in order. */
export function allPanels(dashboard: GrafanaDashboard): DashboardPanel[] {
  return dashboard.panels.flatMap((p) => (p.type === 'row' ? p.panels : [p]));
}
