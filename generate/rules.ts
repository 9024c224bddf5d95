import { kpiRuleGroups } from './kpis.js';
import { peerRuleGroups } from './peers.js';
import { SETTINGS as S, THRESHOLDS as T } from './thresholds.js';

export interface RecordingRule {
  record: string;
  expr: string;
}

export interface AlertingRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: 'warning' | 'critical' };
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Array<RecordingRule | AlertingRule>;
}

/** Every series is kept per exporter and per node. */
const BY = 'job, instance, node';
/** Challenges and a cancelled INVITE's 487 are normal operation, not client errors. */
const NORMAL_4XX = 'code!~"401|407|487"';

const rate = (selector: string, window = '5m') =>
  `sum by (${BY}) (rate(sip_responses_total${selector}[${window}]))`;
/**
 * numerator / denominator: 0 where the node has traffic but none of the numerator, and no sample
 * at all (rather than NaN or +Inf) where it had nothing to divide by.
 */
export const ratio = (numerator: string, denominator: string) =>
  `(\n  ${numerator}\n  or\n  ${denominator} * 0\n)\n/\n(${denominator} > 0)`;

/** sum by (job, instance) of the 5m rates of several sip_exporter_*_total counters together. */
const sumOf = (names: string[]) =>
  `sum by (job, instance) (\n    ${names
    .map((n) => `label_replace(rate(sip_exporter_${n}_total[5m]), "source", "${n}", "", "")`)
    .join('\n    or ')}\n  )`;

export const link = (alert: string) => `${S.runbookUrl}#${alert.toLowerCase()}`;
/** The scrape targets of the exporters. */
const UP = `up{job=~"${S.exporterJob}"}`;
/**
 * Silence alerts need the exporter scraped: while it is down its series are gone, which would
 * read as silence on every node at once; SIPExporterDown and SIPExporterMissing say so instead.
 */
const SCRAPED = 'and on (job, instance)\nup == 1';
export const pct = (x: number) => `${x * 100}%`;

export function ruleGroups(): RuleGroup[] {
  const recording: RecordingRule[] = [
    { record: 'sip_node:responses_final:rate5m', expr: rate('{class!="1xx"}') },
    {
      record: 'sip_node_class:responses_final:rate5m',
      expr: `sum by (${BY}, class) (rate(sip_responses_total{class!="1xx"}[5m]))`,
    },
    { record: 'sip_node:responses_503:rate5m', expr: rate('{code="503"}') },
    { record: 'sip_node:responses_503:rate1h', expr: rate('{code="503"}', '1h') },
    {
      record: 'sip_node:responses_5xx:ratio5m',
      expr: ratio(rate('{class="5xx"}'), 'sip_node:responses_final:rate5m'),
    },
    {
      record: 'sip_node:responses_final_without_challenges:rate5m',
      expr: rate(`{class!="1xx",${NORMAL_4XX}}`),
    },
    {
      record: 'sip_node:responses_4xx_client_errors:ratio5m',
      expr: ratio(rate(`{class="4xx",${NORMAL_4XX}}`), 'sip_node:responses_final_without_challenges:rate5m'),
    },
    {
      record: 'sip_node:responses_6xx:ratio5m',
      expr: ratio(rate('{class="6xx"}'), 'sip_node:responses_final:rate5m'),
    },
    {
      record: 'sip_node:invite_final:rate5m',
      expr: rate('{method="INVITE",class!="1xx",code!~"401|407"}'),
    },
    {
      record: 'sip_node:invite_answer_seizure:ratio5m',
      expr: ratio(rate('{method="INVITE",class="2xx"}'), 'sip_node:invite_final:rate5m'),
    },
    {
      record: 'sip_exporter:ingest_errors:ratio5m',
      // A union, not a sum of sums: a metric with no series (no HEP listener, so no auth
      // failures) must not empty the whole expression. The source label keeps the parts apart.
      expr: ratio(
        sumOf(['parse_errors', 'auth_failures', 'udp_receive_drops']),
        sumOf(['packets_received', 'udp_receive_drops']),
      ),
    },
  ];

  const traffic = `sip_node:responses_final:rate5m > ${T.minFinalRate}`;
  const alerts: AlertingRule[] = [
    {
      alert: 'SIPServiceUnavailableSpike',
      expr: `sip_node:responses_503:rate5m > ${T.serviceUnavailableSpikeFactor} * sip_node:responses_503:rate1h
and
sip_node:responses_503:rate5m > ${T.serviceUnavailableSpikeMinRate}`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: '503 Service Unavailable is spiking on {{ $labels.node }}',
        description:
          '{{ $labels.node }} ({{ $labels.instance }}) answers {{ $value | printf "%.2f" }} 503s per second, ' +
          `more than ${T.serviceUnavailableSpikeFactor} times its rate over the last hour.`,
        runbook_url: link('SIPServiceUnavailableSpike'),
      },
    },
    ...(
      [
        ['warning', T.serverErrorRatioWarning, '10m'],
        ['critical', T.serverErrorRatioCritical, '5m'],
      ] as const
    ).map(
      ([severity, threshold, forTime]): AlertingRule => ({
        alert: 'SIPServerErrorRatioHigh',
        expr: `sip_node:responses_5xx:ratio5m > ${threshold}\nand on (${BY})\n${traffic}`,
        for: forTime,
        labels: { severity },
        annotations: {
          summary: `More than ${pct(threshold)} of final responses on {{ $labels.node }} are 5xx`,
          description:
            '{{ $value | humanizePercentage }} of final SIP responses on {{ $labels.node }} ({{ $labels.instance }}) ' +
            'are server errors (5xx).',
          runbook_url: link('SIPServerErrorRatioHigh'),
        },
      }),
    ),
    {
      alert: 'SIPClientErrorRatioHigh',
      expr: `sip_node:responses_4xx_client_errors:ratio5m > ${T.clientErrorRatioWarning}
and on (${BY})
sip_node:responses_final_without_challenges:rate5m > ${T.minFinalRate}`,
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `More than ${pct(T.clientErrorRatioWarning)} of final responses on {{ $labels.node }} are client errors`,
        description:
          '{{ $value | humanizePercentage }} of final SIP responses on {{ $labels.node }} ({{ $labels.instance }}) ' +
          'are 4xx, not counting 401/407 challenges and 487 after CANCEL.',
        runbook_url: link('SIPClientErrorRatioHigh'),
      },
    },
    {
      alert: 'SIPGlobalFailureRatioHigh',
      expr: `sip_node:responses_6xx:ratio5m > ${T.globalFailureRatioWarning}\nand on (${BY})\n${traffic}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `More than ${pct(T.globalFailureRatioWarning)} of final responses on {{ $labels.node }} are 6xx`,
        description:
          '{{ $value | humanizePercentage }} of final SIP responses on {{ $labels.node }} ({{ $labels.instance }}) ' +
          'are global failures (6xx: busy everywhere, decline, does not exist anywhere, unwanted, rejected).',
        runbook_url: link('SIPGlobalFailureRatioHigh'),
      },
    },
    {
      // For nodes without call KPIs (syslog only, or --kpi.enabled=false): a node with attempt
      // series has SIPAnswerSeizureRatioLow over attempts instead (generate/kpis.ts).
      alert: 'SIPResponseAnswerRatioLow',
      expr: `sip_node:invite_answer_seizure:ratio5m < ${T.answerSeizureRatioWarning}
and on (${BY})
sip_node:invite_final:rate5m > ${T.minFinalRate}
unless on (${BY})
sip_node:session_attempts:rate5m`,
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Fewer than ${pct(T.answerSeizureRatioWarning)} of INVITE responses on {{ $labels.node }} are 2xx`,
        description:
          'Only {{ $value | humanizePercentage }} of INVITE final responses on {{ $labels.node }} ({{ $labels.instance }}) ' +
          'are 2xx (response-based answer ratio, for a node without call KPIs; 401/407 challenges left out). Re-INVITEs within calls (session refreshes, ' +
          'holds) count as answered INVITEs, so with long calls the ratio is above the share of calls answered.',
        runbook_url: link('SIPResponseAnswerRatioLow'),
      },
    },
    {
      alert: 'SIPNoResponses',
      // Not `increase(...[10m]) == 0`: after an exporter restart a silent node has no series
      // until its next response, so that would never fire. "Had traffic within the lookback"
      // reads the recorded rate's history, which outlives the restart (and is cheap over a long
      // lookback); "none for a while" is the absence of any increase, gap or reset included.
      // Silence is judged per job and node, across exporters: a replaced pod (a new instance)
      // or a node failing over to another exporter still hears it. A scraped exporter that is
      // down is SIPExporterDown's; one that has gone entirely leaves its nodes to this alert.
      expr: `max_over_time(sip_node:responses_final:rate5m[${T.noResponsesLookback}]) > 0
unless on (job, node)
sum by (job, node) (increase(sip_responses_total[${T.noResponsesFor}])) > 0
unless on (job, instance)
up == 0`,
      for: '5m',
      labels: { severity: 'critical' },
      annotations: {
        summary: '{{ $labels.node }} has stopped sending SIP responses',
        description:
          `{{ $labels.node }} ({{ $labels.instance }}) had up to {{ $value | printf "%.2f" }} final responses per second in the last ${T.noResponsesLookback} ` +
          `but none in the last ${T.noResponsesFor} on any exporter: the node, its tracing or logging, or the path to the exporter is down.`,
        runbook_url: link('SIPNoResponses'),
      },
    },
    {
      alert: 'SIPExporterNoResponses',
      // The self-metric exists at zero from start, so it has samples after a restart too.
      expr: `sum by (job, instance) (increase(sip_exporter_sip_messages_total{kind="response"}[${T.noResponsesLookback}])) > 0
unless on (job, instance)
sum by (job, instance) (increase(sip_exporter_sip_messages_total{kind="response"}[${T.noResponsesFor}])) > 0
${SCRAPED}`,
      for: '5m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'The exporter {{ $labels.instance }} receives no SIP responses at all',
        description:
          `{{ $labels.instance }} read {{ $value | humanize }} SIP responses in the last ${T.noResponsesLookback} but none in the last ${T.noResponsesFor} ` +
          'from any node: its listeners, the network path to it, or every sender is down.',
        runbook_url: link('SIPExporterNoResponses'),
      },
    },
    {
      alert: 'SIPExporterDown',
      expr: `${UP} == 0`,
      for: T.exporterDownFor,
      labels: { severity: 'critical' },
      annotations: {
        summary: 'Prometheus cannot scrape the exporter {{ $labels.instance }}',
        description:
          `Scrapes of {{ $labels.instance }} (job {{ $labels.job }}) have failed for ${T.exporterDownFor} (up is {{ $value }}): ` +
          'no SIP alert can fire for the nodes it counts.',
        runbook_url: link('SIPExporterDown'),
      },
    },
    {
      alert: 'SIPExporterMissing',
      // A target dropped by service discovery has no `up` at all, so `up == 0` never sees it.
      // Not absent(): it fires once for any number of jobs and carries no labels. Each target
      // (or job, by default) seen within the lookback but not now is missing, until the lookback ends.
      expr: `count by (${S.exporterMissingBy.join(', ')}) (max_over_time(${UP}[${T.exporterMissingLookback}]))
unless on (${S.exporterMissingBy.join(', ')})
${UP}`,
      for: T.exporterDownFor,
      labels: { severity: 'critical' },
      annotations: {
        summary: 'Prometheus no longer has a scrape target for {{ $labels.job }}',
        description:
          `{{ $labels.job }} had {{ $value }} scrape targets in the last ${T.exporterMissingLookback} and has none now: ` +
          'service discovery or the scrape configuration no longer finds the exporter, and what it counts is not collected.',
        runbook_url: link('SIPExporterMissing'),
      },
    },
    {
      alert: 'SIPExporterIngestErrors',
      expr: `sip_exporter:ingest_errors:ratio5m > ${T.ingestErrorRatioWarning}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'The exporter {{ $labels.instance }} rejects or drops what it receives',
        description:
          '{{ $value | humanizePercentage }} of what {{ $labels.instance }} receives is malformed, fails the HEP auth ' +
          'key, or is dropped by the kernel before it is read.',
        runbook_url: link('SIPExporterIngestErrors'),
      },
    },
    {
      alert: 'SIPExporterInternalError',
      // Every other parse error reason points at a sender; these two say a message failed where
      // nothing should, so one is enough to look at.
      expr: 'sum by (job, instance, listener, reason) (increase(sip_exporter_parse_errors_total{reason=~"hep_internal|syslog_unparseable"}[15m])) > 0',
      for: '1m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'The exporter {{ $labels.instance }} failed on a message it should have read',
        description:
          '{{ $labels.instance }} dropped about {{ $value | humanize }} {{ $labels.listener }} messages in 15 minutes with reason ' +
          '{{ $labels.reason }}: a bug in the exporter, not in the sender. Each was counted and dropped; the rest is counted.',
        runbook_url: link('SIPExporterInternalError'),
      },
    },
    {
      alert: 'SIPExporterSenderOnBothSources',
      expr: 'sip_exporter_senders_multiple_sources > 0',
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'A proxy reports to {{ $labels.instance }} through both HEP and syslog',
        description:
          '{{ $value }} sender addresses report to {{ $labels.instance }} through both HEP and syslog: their responses ' +
          'are counted twice, under two node labels. See sip_exporter_node_info and the exporter log (SRE_WARN_NODE_TWO_SOURCES).',
        runbook_url: link('SIPExporterSenderOnBothSources'),
      },
    },
  ];
  return [
    { name: 'sip-response-exporter.recording', rules: recording },
    { name: 'sip-response-exporter.alerts', rules: alerts },
    ...kpiRuleGroups(),
    ...peerRuleGroups(),
  ];
}
