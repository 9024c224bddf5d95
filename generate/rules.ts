import { RUNBOOK_URL, THRESHOLDS as T } from './thresholds.js';

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
const ratio = (numerator: string, denominator: string) =>
  `(\n  ${numerator}\n  or\n  ${denominator} * 0\n)\n/\n(${denominator} > 0)`;

/** sum by (job, instance) of the 5m rates of several sip_exporter_*_total counters together. */
const sumOf = (names: string[]) =>
  `sum by (job, instance) (\n    ${names
    .map((n) => `label_replace(rate(sip_exporter_${n}_total[5m]), "source", "${n}", "", "")`)
    .join('\n    or ')}\n  )`;

const link = (alert: string) => `${RUNBOOK_URL}#${alert.toLowerCase()}`;
const pct = (x: number) => `${x * 100}%`;

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
      alert: 'SIPAnswerSeizureRatioLow',
      expr: `sip_node:invite_answer_seizure:ratio5m < ${T.answerSeizureRatioWarning}
and on (${BY})
sip_node:invite_final:rate5m > ${T.minFinalRate}`,
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Fewer than ${pct(T.answerSeizureRatioWarning)} of INVITEs on {{ $labels.node }} are answered`,
        description:
          'Only {{ $value | humanizePercentage }} of INVITE final responses on {{ $labels.node }} ({{ $labels.instance }}) ' +
          'are 2xx (answer-seizure ratio; 401/407 challenges left out).',
        runbook_url: link('SIPAnswerSeizureRatioLow'),
      },
    },
    {
      alert: 'SIPNoResponses',
      expr: `sum by (${BY}) (increase(sip_responses_total[${T.noResponsesFor}])) == 0
and on (${BY})
sum by (${BY}) (increase(sip_responses_total[1h])) > 0`,
      for: '5m',
      labels: { severity: 'critical' },
      annotations: {
        summary: '{{ $labels.node }} has stopped sending SIP responses',
        description:
          '{{ $labels.node }} ({{ $labels.instance }}) had SIP traffic in the last hour but {{ $value }} responses ' +
          `in the last ${T.noResponsesFor}: the node, its tracing or logging, or the path to the exporter is down.`,
        runbook_url: link('SIPNoResponses'),
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
  ];
  return [
    { name: 'sip-response-exporter.recording', rules: recording },
    { name: 'sip-response-exporter.alerts', rules: alerts },
  ];
}
