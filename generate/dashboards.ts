import {
  AxisPlacement,
  BigValueColorMode,
  BigValueGraphMode,
  BigValueJustifyMode,
  BigValueTextMode,
  DashboardCursorSync,
  type DashboardLink,
  type DataSourceRef,
  GraphDrawStyle,
  GraphThresholdsStyleMode,
  HeatmapCellLayout,
  LegendDisplayMode,
  PercentChangeColorMode,
  SortOrder,
  StackingMode,
  type Threshold,
  ThresholdsMode,
  TooltipDisplayMode,
  type VariableModel,
  VariableRefresh,
  VariableSort,
  VisibilityMode,
  VizOrientation,
} from '@grafana/schema';
import {
  HeatmapColorMode,
  HeatmapColorScale,
  HeatmapSelectionMode,
} from '@grafana/schema/dist/esm/raw/composable/heatmap/panelcfg/x/HeatmapPanelCfg_types.gen';
import {
  type DashboardPanel,
  type DashboardRow,
  type GrafanaDashboard,
  type PromAnnotation,
  type PromQuery,
  type QueryVariable,
  SCHEMA_VERSION,
} from './grafana.js';
import { callKpis } from './kpi-dashboard.js';
import { peersDashboard } from './peers.js';
import { THRESHOLDS as T } from './thresholds.js';

/**
 * The Grafana dashboards, built in the JSON model that @grafana/schema types (grafana.ts), with
 * its schema version. Every panel has a unit and a description; every query names the
 * `datasource` variable; counters appear only inside rate() or increase().
 */

export interface Target {
  expr: string;
  /** this series' unit, where it differs from the panel's (a count beside a rate) */
  unit?: string;
  legendFormat?: string;
  instant?: boolean;
  format?: Exclude<PromQuery['format'], 'heatmap'>;
}

export interface PanelSpec {
  title: string;
  description: string;
  type: 'timeseries' | 'table' | 'stat';
  unit: string;
  targets: Target[];
  width?: number;
  height?: number;
  stacked?: boolean;
  /** a red line at this value (an alert threshold) */
  threshold?: number;
  min?: number;
  max?: number;
}

/**
 * A heatmap of a Prometheus histogram: one cell per bucket and interval, coloured by how many
 * observations fell in it. Cells count observations; the y axis is the buckets' bound.
 */
export interface HeatmapSpec {
  title: string;
  description: string;
  type: 'heatmap';
  /** the histogram's name, without _bucket */
  histogram: string;
  /** label matchers, the dashboard's selection included */
  selector: string;
  /** the unit of the buckets' bounds */
  yUnit: string;
  width?: number;
  height?: number;
}

/** A full-width row; collapsed, its panels load only when it is opened. */
export interface RowSpec {
  row: string;
  collapsed: boolean;
  panels: Array<PanelSpec | HeatmapSpec>;
}

export type Spec = PanelSpec | HeatmapSpec | RowSpec;

/** Grafana's reference to the dashboard's data source variable (not a JavaScript template). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: this is Grafana's variable syntax
export const DATASOURCE_UID = '${datasource}';
const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: DATASOURCE_UID };

const refId = (i: number) => String.fromCharCode(65 + i);

/** What every panel has, whatever its plugin, but its id and type. */
function common(spec: PanelSpec | HeatmapSpec, x: number, y: number) {
  return {
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos: { h: spec.height ?? 8, w: spec.width ?? 12, x, y },
  };
}

function thresholds(threshold: number | undefined) {
  const steps: Threshold[] = [{ color: 'green', value: null }];
  if (threshold !== undefined) steps.push({ color: 'red', value: threshold });
  return { mode: ThresholdsMode.Absolute, steps };
}

function heatmapPanel(spec: HeatmapSpec, id: number, x: number, y: number): DashboardPanel {
  return {
    id,
    type: 'heatmap',
    ...common(spec, x, y),
    fieldConfig: { defaults: { unit: 'short', thresholds: thresholds(undefined) }, overrides: [] },
    options: {
      // The buckets are already counts per bound: drawn as they are, not bucketed again.
      calculate: false,
      cellGap: 1,
      color: {
        mode: HeatmapColorMode.Scheme,
        scheme: 'Oranges',
        fill: 'dark-orange',
        scale: HeatmapColorScale.Exponential,
        exponent: 0.5,
        steps: 64,
        reverse: false,
      },
      exemplars: { color: 'rgba(255,0,255,0.7)' },
      // Empty buckets stay blank rather than the palette's first colour.
      filterValues: { le: 1e-9 },
      legend: { show: true },
      rowsFrame: { layout: HeatmapCellLayout.auto },
      selectionMode: HeatmapSelectionMode.X,
      showValue: VisibilityMode.Never,
      tooltip: { mode: TooltipDisplayMode.Single, yHistogram: true, showColorScale: false },
      yAxis: { axisPlacement: AxisPlacement.Left, unit: spec.yUnit, reverse: false },
    },
    targets: [
      {
        datasource: DATASOURCE,
        refId: 'A',
        expr: `sum by (le) (increase(${spec.histogram}_bucket{${spec.selector}}[$__rate_interval]))`,
        legendFormat: '{{le}}',
        instant: false,
        range: true,
        format: 'heatmap',
      },
    ],
  };
}

function panel(spec: PanelSpec | HeatmapSpec, id: number, x: number, y: number): DashboardPanel {
  if (spec.type === 'heatmap') return heatmapPanel(spec, id, x, y);
  const targets = spec.targets.map(
    (t, i): PromQuery => ({
      datasource: DATASOURCE,
      refId: refId(i),
      expr: t.expr,
      legendFormat: t.legendFormat ?? '__auto',
      instant: t.instant ?? false,
      range: !(t.instant ?? false),
      format: t.format ?? 'time_series',
    }),
  );
  const defaults = {
    unit: spec.unit,
    ...(spec.min !== undefined ? { min: spec.min } : {}),
    ...(spec.max !== undefined ? { max: spec.max } : {}),
    thresholds: thresholds(spec.threshold),
  };
  // Per series, so a count drawn beside a rate or a duration keeps its own unit and axis.
  const overrides = spec.targets.flatMap((t, i) =>
    t.unit === undefined || t.unit === spec.unit
      ? []
      : [{ matcher: { id: 'byFrameRefID', options: refId(i) }, properties: [{ id: 'unit', value: t.unit }] }],
  );
  const place = common(spec, x, y);
  switch (spec.type) {
    case 'table':
      return {
        id,
        type: 'table',
        ...place,
        fieldConfig: { defaults, overrides },
        options: { showHeader: true, frameIndex: 0, sortBy: [{ displayName: 'Value', desc: true }] },
        targets,
        transformations: [{ id: 'organize', options: { excludeByName: { Time: true } } }],
      };
    case 'stat':
      return {
        id,
        type: 'stat',
        ...place,
        fieldConfig: { defaults, overrides },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: BigValueColorMode.Value,
          graphMode: BigValueGraphMode.Area,
          justifyMode: BigValueJustifyMode.Auto,
          textMode: BigValueTextMode.Auto,
          orientation: VizOrientation.Auto,
          percentChangeColorMode: PercentChangeColorMode.Standard,
          showPercentChange: false,
          wideLayout: true,
        },
        targets,
      };
    case 'timeseries':
      return {
        id,
        type: 'timeseries',
        ...place,
        fieldConfig: {
          defaults: {
            ...defaults,
            custom: {
              drawStyle: GraphDrawStyle.Line,
              lineWidth: 1,
              fillOpacity: spec.stacked ? 60 : 10,
              stacking: { mode: spec.stacked ? StackingMode.Normal : StackingMode.None, group: 'A' },
              thresholdsStyle: {
                mode:
                  spec.threshold !== undefined ? GraphThresholdsStyleMode.Line : GraphThresholdsStyleMode.Off,
              },
            },
          },
          overrides,
        },
        options: {
          legend: {
            showLegend: true,
            displayMode: LegendDisplayMode.Table,
            placement: 'right',
            calcs: ['mean', 'max'],
          },
          tooltip: { mode: TooltipDisplayMode.Multi, sort: SortOrder.Descending },
        },
        targets,
      };
  }
}

/**
 * Lays panels out left to right, two to a row unless a panel asks for the full width; a row
 * starts a new line, and a collapsed one keeps its panels inside it.
 */
function layout(specs: Spec[]): Array<DashboardPanel | DashboardRow> {
  const panels: Array<DashboardPanel | DashboardRow> = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  let id = 1;
  const place = (spec: PanelSpec | HeatmapSpec) => {
    const w = spec.width ?? 12;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const p = panel(spec, id++, x, y);
    x += w;
    rowHeight = Math.max(rowHeight, spec.height ?? 8);
    return p;
  };
  for (const spec of specs) {
    if (!('row' in spec)) {
      panels.push(place(spec));
      continue;
    }
    y += rowHeight;
    const row: DashboardRow = {
      type: 'row',
      id: id++,
      title: spec.row,
      collapsed: spec.collapsed,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    };
    x = 0;
    y += 1;
    rowHeight = 0;
    const inside = spec.panels.map(place);
    if (spec.collapsed) row.panels = inside;
    panels.push(row, ...(spec.collapsed ? [] : inside));
  }
  return panels;
}

export function queryVariable(
  name: string,
  label: string,
  query: string,
  options: { multi?: boolean; regex?: string } = {},
): QueryVariable {
  return {
    name,
    label,
    type: 'query',
    datasource: DATASOURCE,
    query: { query, refId: `${name}-variable` },
    definition: query,
    regex: options.regex ?? '',
    refresh: VariableRefresh.onTimeRangeChanged,
    sort: VariableSort.alphabeticalAsc,
    multi: options.multi ?? true,
    includeAll: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
  };
}

const datasourceVariable: VariableModel = {
  name: 'datasource',
  label: 'Data source',
  type: 'datasource',
  query: 'prometheus',
  refresh: VariableRefresh.onDashboardLoad,
};
export const jobVariable = queryVariable('job', 'Job', 'label_values(sip_exporter_build_info, job)');
export const instanceVariable = queryVariable(
  'instance',
  'Instance',
  'label_values(sip_exporter_build_info{job=~"$job"}, instance)',
);
/**
 * How each node reaches the exporter (`hep` or `syslog`), from sip_exporter_node_info. An
 * exporter without that gauge gives no values, and "All" then selects everything.
 */
export const sourceVariable = queryVariable(
  'source',
  'Source',
  'label_values(sip_exporter_node_info{job=~"$job",instance=~"$instance"}, source)',
);
/**
 * Drops the series of nodes whose source is not selected. Written as "unless another source" so
 * that it keeps everything where sip_exporter_node_info does not exist (an older exporter) and
 * when every source is selected.
 */
export const FROM_SOURCE =
  'unless on (job, instance, node) sip_exporter_node_info{job=~"$job",instance=~"$instance",source!~"$source"}';
/** Nodes with responses, of the chosen sources; the same tolerance as FROM_SOURCE. */
export const nodeVariable = queryVariable(
  'node',
  'Node',
  `query_result(group by (node) (sip_responses_total{job=~"$job",instance=~"$instance"} ${FROM_SOURCE}))`,
  { regex: '/node="([^"]*)"/' },
);
export const methodVariable = queryVariable(
  'method',
  'Method',
  'label_values(sip_responses_total{job=~"$job",instance=~"$instance",node=~"$node"}, method)',
);

const firingAlerts: PromAnnotation = {
  name: 'Firing SIP alerts',
  datasource: DATASOURCE,
  enable: true,
  iconColor: 'red',
  target: {
    refId: 'Anno',
    expr: 'ALERTS{alertname=~"SIP.*",alertstate="firing",job=~"$job",instance=~"$instance"}',
    interval: '60s',
  },
  titleFormat: '{{alertname}}',
  textFormat: '{{severity}} on {{node}}',
  useValueForTime: false,
};

const link = (title: string, uid: string): DashboardLink => ({
  title,
  type: 'link',
  url: `/d/${uid}`,
  icon: 'external link',
  tooltip: '',
  tags: [],
  asDropdown: false,
  targetBlank: false,
  includeVars: true,
  keepTime: true,
});

/** The dashboards each one links to, by title and uid (not to itself). */
const LINKS = [
  ['SIP responses', 'sip-responses-overview'],
  ['Response code drill-down', 'sip-response-code'],
  ['Exporter health', 'sip-exporter-health'],
  ['Call KPIs', 'sip-call-kpis'],
] as const;

export function dashboard(
  uid: string,
  title: string,
  description: string,
  variables: VariableModel[],
  specs: Spec[],
): GrafanaDashboard {
  return {
    uid,
    title,
    description,
    tags: ['sip', 'voip', 'sip-response-exporter'],
    timezone: 'browser',
    editable: true,
    graphTooltip: DashboardCursorSync.Crosshair,
    refresh: '30s',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    time: { from: 'now-6h', to: 'now' },
    templating: { list: [datasourceVariable, ...variables] },
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        firingAlerts,
      ],
    },
    links: LINKS.filter(([, to]) => to !== uid).map(([name, to]) => link(name, to)),
    panels: layout(specs),
  };
}

/** Everything a panel on the SIP dashboards selects, by the dashboard's variables. */
const SIP = 'job=~"$job",instance=~"$instance",node=~"$node",method=~"$method"';
export const RATE = '$__rate_interval';

function overview() {
  const finals = `sum(rate(sip_responses_total{${SIP},class!="1xx"}[${RATE}]) ${FROM_SOURCE})`;
  return dashboard(
    'sip-responses-overview',
    'SIP responses',
    'SIP responses by class, code, method and node, from sip-response-exporter.',
    [jobVariable, instanceVariable, sourceVariable, nodeVariable, methodVariable],
    [
      {
        title: 'Responses by class',
        description: 'SIP responses per second, stacked by class (1xx provisional to 6xx global failure).',
        type: 'timeseries',
        unit: 'ops',
        stacked: true,
        targets: [
          {
            expr: `sum by (class) (rate(sip_responses_total{${SIP}}[${RATE}]) ${FROM_SOURCE})`,
            legendFormat: '{{class}}',
          },
        ],
      },
      {
        title: 'Top response codes',
        description:
          'The most frequent status codes over the dashboard time range, with their canonical reason.',
        type: 'table',
        unit: 'short',
        targets: [
          {
            expr: `topk(15, sum by (code, reason) (increase(sip_responses_total{${SIP}}[$__range]) ${FROM_SOURCE}))`,
            instant: true,
            format: 'table',
          },
        ],
      },
      {
        title: 'Share of final responses: 4xx, 5xx, 6xx',
        description:
          'Client errors, server errors and global failures as a share of all final (non-1xx) responses. 401/407 challenges and 487 are client errors here; the 4xx alert leaves them out.',
        type: 'timeseries',
        unit: 'percentunit',
        min: 0,
        targets: [
          {
            expr: `sum by (class) (rate(sip_responses_total{${SIP},class=~"4xx|5xx|6xx"}[${RATE}]) ${FROM_SOURCE})\n/ ignoring (class) group_left ()\n(${finals} > 0)`,
            legendFormat: '{{class}}',
          },
        ],
      },
      {
        title: '503 Service Unavailable against the spike threshold',
        description: `503 responses per second per node, and the rate that would count as a spike: ${T.serviceUnavailableSpikeFactor}x the last hour's rate (the alert also needs more than ${T.serviceUnavailableSpikeMinRate}/s, the red line).`,
        type: 'timeseries',
        unit: 'ops',
        threshold: T.serviceUnavailableSpikeMinRate,
        targets: [
          {
            expr: `sum by (node) (rate(sip_responses_total{${SIP},code="503"}[${RATE}]) ${FROM_SOURCE})`,
            legendFormat: '503 {{node}}',
          },
          {
            expr: `${T.serviceUnavailableSpikeFactor} * sum by (node) (rate(sip_responses_total{${SIP},code="503"}[1h]) ${FROM_SOURCE})`,
            legendFormat: 'spike threshold {{node}}',
          },
        ],
      },
      {
        title: 'Responses by method',
        description: 'SIP responses per second by the CSeq method they answer.',
        type: 'timeseries',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (method) (rate(sip_responses_total{${SIP}}[${RATE}]) ${FROM_SOURCE})`,
            legendFormat: '{{method}}',
          },
        ],
      },
      {
        title: 'Responses by node',
        description:
          'SIP responses per second by the node that saw them (HEP capture agent, or syslog host).',
        type: 'timeseries',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (node) (rate(sip_responses_total{${SIP}}[${RATE}]) ${FROM_SOURCE})`,
            legendFormat: '{{node}}',
          },
        ],
      },
      {
        title: 'Answer-seizure ratio',
        description: `Share of INVITE final responses that are 2xx, per node (401/407 challenges left out). The alert fires below ${T.answerSeizureRatioWarning * 100}% (the red line).`,
        type: 'timeseries',
        unit: 'percentunit',
        min: 0,
        max: 1,
        threshold: T.answerSeizureRatioWarning,
        width: 24,
        targets: [
          {
            expr: `sum by (node) (rate(sip_responses_total{${SIP},method="INVITE",class="2xx"}[${RATE}]) ${FROM_SOURCE})\n/\n(sum by (node) (rate(sip_responses_total{${SIP},method="INVITE",class!="1xx",code!~"401|407"}[${RATE}]) ${FROM_SOURCE}) > 0)`,
            legendFormat: '{{node}}',
          },
        ],
      },
    ],
  );
}

function drillDown() {
  const codeVariable = queryVariable(
    'code',
    'Code',
    'label_values(sip_responses_total{job=~"$job",instance=~"$instance"}, code)',
  );
  const classVariable: VariableModel = {
    name: 'class',
    label: 'Class',
    type: 'custom',
    query: '1xx,2xx,3xx,4xx,5xx,6xx',
    multi: true,
    includeAll: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
  };
  const chosen = `${SIP},code=~"$code",class=~"$class"`;
  return dashboard(
    'sip-response-code',
    'SIP response code drill-down',
    'One SIP status code or class (for example 503, or 5xx) by node and method.',
    [
      jobVariable,
      instanceVariable,
      sourceVariable,
      nodeVariable,
      methodVariable,
      codeVariable,
      classVariable,
    ],
    [
      {
        title: 'Chosen responses by node',
        description: 'Responses per second with the chosen code and class, by node.',
        type: 'timeseries',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (node) (rate(sip_responses_total{${chosen}}[${RATE}]) ${FROM_SOURCE})`,
            legendFormat: '{{node}}',
          },
        ],
      },
      {
        title: 'Chosen responses by method',
        description: 'Responses per second with the chosen code and class, by the CSeq method they answer.',
        type: 'timeseries',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (method) (rate(sip_responses_total{${chosen}}[${RATE}]) ${FROM_SOURCE})`,
            legendFormat: '{{method}}',
          },
        ],
      },
      {
        title: 'Share of final responses',
        description: 'The chosen final responses as a share of all final responses of each node.',
        type: 'timeseries',
        unit: 'percentunit',
        min: 0,
        targets: [
          {
            expr: `sum by (node) (rate(sip_responses_total{${chosen},class!="1xx"}[${RATE}]) ${FROM_SOURCE})\n/\n(sum by (node) (rate(sip_responses_total{${SIP},class!="1xx"}[${RATE}]) ${FROM_SOURCE}) > 0)`,
            legendFormat: '{{node}}',
          },
        ],
      },
      {
        title: 'Chosen responses over the range',
        description:
          'How many responses of each chosen code each node saw for each method over the time range.',
        type: 'table',
        unit: 'short',
        targets: [
          {
            expr: `sum by (code, reason, method, node) (increase(sip_responses_total{${chosen}}[$__range]) ${FROM_SOURCE})`,
            instant: true,
            format: 'table',
          },
        ],
      },
    ],
  );
}

function health() {
  const E = 'job=~"$job",instance=~"$instance"';
  return dashboard(
    'sip-exporter-health',
    'SIP exporter health',
    'What sip-response-exporter receives, rejects and drops, and what it costs.',
    [jobVariable, instanceVariable],
    [
      {
        title: 'Ingest by listener and transport',
        description: 'HEP packets and syslog messages received per second.',
        type: 'timeseries',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (listener, transport) (rate(sip_exporter_packets_received_total{${E}}[${RATE}]))`,
            legendFormat: '{{listener}} {{transport}}',
          },
        ],
      },
      {
        title: 'Bytes received',
        description: 'Bytes read per second by listener and transport.',
        type: 'timeseries',
        unit: 'Bps',
        targets: [
          {
            expr: `sum by (listener, transport) (rate(sip_exporter_bytes_received_total{${E}}[${RATE}]))`,
            legendFormat: '{{listener}} {{transport}}',
          },
        ],
      },
      {
        title: 'Parse errors',
        description:
          'Packets and frames rejected as malformed per second, by listener and reason (docs/metrics.md lists the reasons).',
        type: 'timeseries',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (listener, reason) (rate(sip_exporter_parse_errors_total{${E}}[${RATE}])) > 0`,
            legendFormat: '{{listener}} {{reason}}',
          },
        ],
      },
      {
        title: 'Auth failures and kernel drops',
        description:
          'HEP packets without the right auth key, and datagrams the kernel dropped because the socket buffer was full.',
        type: 'timeseries',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (listener) (rate(sip_exporter_auth_failures_total{${E}}[${RATE}]))`,
            legendFormat: 'auth failures {{listener}}',
          },
          {
            expr: `sum by (listener) (rate(sip_exporter_udp_receive_drops_total{${E}}[${RATE}]))`,
            legendFormat: 'udp drops {{listener}}',
          },
        ],
      },
      {
        title: 'Dedupe',
        description:
          'Messages not counted because the same node reported them twice (traced in and out, or retransmitted), and early evictions from a full dedupe table.',
        type: 'timeseries',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (kind) (rate(sip_exporter_dedupe_hits_total{${E}}[${RATE}]))`,
            legendFormat: 'hits {{kind}}',
          },
          {
            expr: `sum(rate(sip_exporter_dedupe_evictions_total{${E}}[${RATE}]))`,
            legendFormat: 'evictions',
          },
        ],
      },
      {
        title: 'Nodes and node overflow',
        description:
          'Distinct node label values, and messages counted as node="other" because the node limit was reached.',
        type: 'timeseries',
        unit: 'short',
        targets: [
          { expr: `sum by (instance) (sip_exporter_nodes{${E}})`, legendFormat: 'nodes {{instance}}' },
          {
            expr: `sum by (instance) (rate(sip_exporter_node_overflow_total{${E}}[${RATE}]))`,
            legendFormat: 'overflow/s {{instance}}',
            unit: 'ops',
          },
        ],
      },
      {
        title: 'TCP and TLS connections',
        description: 'Connections open now, and connections refused over the limit per second.',
        type: 'timeseries',
        unit: 'short',
        targets: [
          {
            expr: `sum by (listener) (sip_exporter_tcp_connections_open{${E}})`,
            legendFormat: 'open {{listener}}',
          },
          {
            expr: `sum by (listener) (rate(sip_exporter_tcp_connections_total{${E},result="rejected_limit"}[${RATE}]))`,
            legendFormat: 'rejected/s {{listener}}',
            unit: 'ops',
          },
        ],
      },
      {
        title: 'Syslog extractor matches',
        description:
          'Syslog messages per second that each extractor turned into a response, and those no extractor matched.',
        type: 'timeseries',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (extractor) (rate(sip_exporter_syslog_matches_total{${E}}[${RATE}]))`,
            legendFormat: '{{extractor}}',
          },
          {
            expr: `sum(rate(sip_exporter_syslog_unmatched_total{${E}}[${RATE}]))`,
            legendFormat: 'unmatched',
          },
        ],
      },
      {
        title: 'CPU',
        description: 'CPU time of the exporter process per second (1 is one full core).',
        type: 'timeseries',
        unit: 'percentunit',
        targets: [{ expr: `rate(process_cpu_seconds_total{${E}}[${RATE}])`, legendFormat: '{{instance}}' }],
      },
      {
        title: 'Memory',
        description: 'Resident memory and V8 heap in use of the exporter process.',
        type: 'timeseries',
        unit: 'bytes',
        targets: [
          { expr: `process_resident_memory_bytes{${E}}`, legendFormat: 'resident {{instance}}' },
          {
            expr: `sum by (instance) (nodejs_heap_size_used_bytes{${E}})`,
            legendFormat: 'heap used {{instance}}',
          },
        ],
      },
      {
        title: 'Scrape duration',
        description: 'How long Prometheus takes to scrape the exporter.',
        type: 'timeseries',
        unit: 's',
        targets: [{ expr: `scrape_duration_seconds{${E}}`, legendFormat: '{{instance}}' }],
      },
      {
        title: 'Listeners bound',
        description:
          'Listeners each exporter has bound, one per listener and transport. A drop means a listener failed to bind or was configured away.',
        type: 'timeseries',
        unit: 'short',
        min: 0,
        targets: [
          {
            expr: `sum by (instance) (sip_exporter_listener_up{${E}})`,
            legendFormat: '{{instance}}',
          },
        ],
      },
      {
        title: 'Configuration reload',
        description:
          '1 when the last configuration reload succeeded (SIGHUP), 0 when it failed and the old configuration stayed.',
        type: 'stat',
        unit: 'bool',
        targets: [
          { expr: `min(sip_exporter_config_last_reload_successful{${E}})`, legendFormat: 'last reload' },
        ],
      },
    ],
  );
}

export function dashboards(): Array<{ file: string; json: GrafanaDashboard }> {
  return [
    { file: 'dashboards/sip-responses-overview.json', json: overview() },
    { file: 'dashboards/sip-response-code.json', json: drillDown() },
    { file: 'dashboards/sip-exporter-health.json', json: health() },
    { file: 'dashboards/sip-call-kpis.json', json: callKpis() },
    { file: 'dashboards/sip-peers.json', json: peersDashboard() },
  ];
}
