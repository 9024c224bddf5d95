import { callKpis } from './kpi-dashboard.js';
import { peersDashboard } from './peers.js';
import { THRESHOLDS as T } from './thresholds.js';

/**
 * The Grafana dashboards, built as plain objects in the JSON model Grafana 10 and 11 import
 * (schemaVersion 39). Every panel has a unit and a description; every query names the
 * `datasource` variable; counters appear only inside rate() or increase().
 */

export interface Target {
  expr: string;
  /** this series' unit, where it differs from the panel's (a count beside a rate) */
  unit?: string;
  legendFormat?: string;
  instant?: boolean;
  format?: 'time_series' | 'table';
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

/** Grafana's reference to the dashboard's data source variable (not a JavaScript template). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: this is Grafana's variable syntax
export const DATASOURCE_UID = '${datasource}';
const DATASOURCE = { type: 'prometheus', uid: DATASOURCE_UID };

function panel(spec: PanelSpec, id: number, x: number, y: number) {
  const thresholdSteps = [{ color: 'green', value: null as number | null }];
  if (spec.threshold !== undefined) thresholdSteps.push({ color: 'red', value: spec.threshold });
  return {
    id,
    type: spec.type,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos: { h: spec.height ?? 8, w: spec.width ?? 12, x, y },
    fieldConfig: {
      defaults: {
        unit: spec.unit,
        ...(spec.min !== undefined ? { min: spec.min } : {}),
        ...(spec.max !== undefined ? { max: spec.max } : {}),
        thresholds: { mode: 'absolute', steps: thresholdSteps },
        ...(spec.type === 'timeseries'
          ? {
              custom: {
                drawStyle: 'line',
                lineWidth: 1,
                fillOpacity: spec.stacked ? 60 : 10,
                stacking: { mode: spec.stacked ? 'normal' : 'none', group: 'A' },
                thresholdsStyle: { mode: spec.threshold !== undefined ? 'line' : 'off' },
              },
            }
          : {}),
      },
      // Per series, so a count drawn beside a rate or a duration keeps its own unit and axis.
      overrides: spec.targets.flatMap((t, i) =>
        t.unit === undefined || t.unit === spec.unit
          ? []
          : [
              {
                matcher: { id: 'byFrameRefID', options: String.fromCharCode(65 + i) },
                properties: [{ id: 'unit', value: t.unit }],
              },
            ],
      ),
    },
    options:
      spec.type === 'table'
        ? { showHeader: true, sortBy: [{ displayName: 'Value', desc: true }] }
        : spec.type === 'stat'
          ? {
              reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
              colorMode: 'value',
              graphMode: 'area',
            }
          : {
              legend: { displayMode: 'table', placement: 'right', calcs: ['mean', 'max'] },
              tooltip: { mode: 'multi', sort: 'desc' },
            },
    targets: spec.targets.map((t, i) => ({
      datasource: DATASOURCE,
      refId: String.fromCharCode(65 + i),
      expr: t.expr,
      legendFormat: t.legendFormat ?? '__auto',
      instant: t.instant ?? false,
      range: !(t.instant ?? false),
      format: t.format ?? 'time_series',
    })),
    ...(spec.type === 'table'
      ? { transformations: [{ id: 'organize', options: { excludeByName: { Time: true } } }] }
      : {}),
  };
}

/** Lays panels out left to right, two to a row unless a panel asks for the full width. */
function layout(specs: PanelSpec[]) {
  const panels = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  let id = 1;
  for (const spec of specs) {
    const w = spec.width ?? 12;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    panels.push(panel(spec, id++, x, y));
    x += w;
    rowHeight = Math.max(rowHeight, spec.height ?? 8);
  }
  return panels;
}

export function queryVariable(
  name: string,
  label: string,
  query: string,
  options: { multi?: boolean; regex?: string } = {},
) {
  return {
    name,
    label,
    type: 'query',
    datasource: DATASOURCE,
    query: { query, refId: `${name}-variable` },
    definition: query,
    regex: options.regex ?? '',
    refresh: 2,
    sort: 1,
    multi: options.multi ?? true,
    includeAll: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
  };
}

const datasourceVariable = {
  name: 'datasource',
  label: 'Data source',
  type: 'datasource',
  query: 'prometheus',
  current: {},
  refresh: 1,
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

const firingAlerts = {
  name: 'Firing SIP alerts',
  datasource: DATASOURCE,
  enable: true,
  iconColor: 'red',
  expr: 'ALERTS{alertname=~"SIP.*",alertstate="firing",job=~"$job",instance=~"$instance"}',
  step: '60s',
  titleFormat: '{{alertname}}',
  textFormat: '{{severity}} on {{node}}',
  useValueForTime: false,
};

export function dashboard(
  uid: string,
  title: string,
  description: string,
  variables: unknown[],
  specs: PanelSpec[],
) {
  return {
    uid,
    title,
    description,
    tags: ['sip', 'voip', 'sip-response-exporter'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
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
    links: [
      {
        title: 'SIP responses',
        type: 'link',
        url: '/d/sip-responses-overview',
        includeVars: true,
        keepTime: true,
      },
      {
        title: 'Response code drill-down',
        type: 'link',
        url: '/d/sip-response-code',
        includeVars: true,
        keepTime: true,
      },
      {
        title: 'Exporter health',
        type: 'link',
        url: '/d/sip-exporter-health',
        includeVars: true,
        keepTime: true,
      },
    ],
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
  const classVariable = {
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

export function dashboards(): Array<{ file: string; json: unknown }> {
  return [
    { file: 'dashboards/sip-responses-overview.json', json: overview() },
    { file: 'dashboards/sip-response-code.json', json: drillDown() },
    { file: 'dashboards/sip-exporter-health.json', json: health() },
    { file: 'dashboards/sip-call-kpis.json', json: callKpis() },
    { file: 'dashboards/sip-peers.json', json: peersDashboard() },
  ];
}
