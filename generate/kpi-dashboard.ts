import {
  dashboard,
  instanceVariable,
  jobVariable,
  type PanelSpec,
  queryVariable,
  RATE,
} from './dashboards.js';
import { THRESHOLDS as T } from './thresholds.js';

/**
 * The "Call KPIs" dashboard: attempts by outcome, the RFC 6076 and ITU-T ratios per node, setup
 * delays and durations as percentiles, active sessions and release causes. Its nodes are those
 * with attempts, which only HEP (and capture replay) gives.
 */

const K = 'job=~"$job",instance=~"$instance",node=~"$node"';

const attempts = (selector: string) =>
  `sum by (node) (rate(sip_session_attempts_total{${K}${selector}}[${RATE}]))`;
const ratio = (numerator: string, denominator: string) =>
  `${attempts(numerator)}\n/\n(${attempts(denominator)} > 0)`;
const EFFECTIVE = ',outcome=~"answered|busy|declined|unavailable"';
const NOT_REDIRECTED = ',outcome!="redirected"';
const quantile = (q: number, metric: string, selector = '', by = '') =>
  `histogram_quantile(${q}, sum by (le${by}) (rate(${metric}_bucket{${K}${selector}}[${RATE}])))`;

/** A timeseries of delays or durations: one line per [quantile, histogram, legend, selector]. */
const seconds = (
  title: string,
  description: string,
  lines: Array<[number, string, string, string?]>,
  threshold?: number,
): PanelSpec => ({
  title,
  description,
  type: 'timeseries',
  unit: 's',
  threshold,
  targets: lines.map(([q, metric, legendFormat, selector]) => ({
    expr: quantile(q, metric, selector),
    legendFormat,
  })),
});

export function callKpis() {
  const nodeVariable = queryVariable(
    'node',
    'Node',
    'label_values(sip_session_attempts_total{job=~"$job",instance=~"$instance"}, node)',
  );
  const specs: PanelSpec[] = [
    {
      title: 'Session attempts by outcome',
      description:
        'Session attempts (initial INVITEs, each counted once whatever its retransmissions, copies and challenges) per second, stacked by outcome.',
      type: 'timeseries',
      unit: 'ops',
      stacked: true,
      width: 24,
      targets: [
        {
          expr: `sum by (outcome) (rate(sip_session_attempts_total{${K}}[${RATE}]))`,
          legendFormat: '{{outcome}}',
        },
      ],
    },
    {
      title: 'Answer-seizure ratio (ASR)',
      description: `Answered attempts over all attempts, per node (ITU-T E.411). The alert fires below ${T.answerSeizureRatioWarning * 100}% (the red line).`,
      type: 'timeseries',
      unit: 'percentunit',
      min: 0,
      max: 1,
      threshold: T.answerSeizureRatioWarning,
      targets: [{ expr: ratio(',outcome="answered"', ''), legendFormat: '{{node}}' }],
    },
    {
      title: 'Ineffective session attempts (ISA)',
      description: `Attempts ended by 408, 500, 503, 504 or no final response over all attempts, per node (RFC 6076 4.8). The alert fires above ${T.ineffectiveAttemptRatioWarning * 100}% (the red line).`,
      type: 'timeseries',
      unit: 'percentunit',
      min: 0,
      max: 1,
      threshold: T.ineffectiveAttemptRatioWarning,
      targets: [{ expr: ratio(',outcome=~"ineffective|timeout"', ''), legendFormat: '{{node}}' }],
    },
    {
      title: 'SER, SEER and NER',
      description:
        'Per node: SER, answered over attempts less redirected (RFC 6076 4.6); SEER, answered or busy, declined or unavailable over attempts less redirected (4.7); NER, the same over all attempts (ITU-T E.425).',
      type: 'timeseries',
      unit: 'percentunit',
      min: 0,
      max: 1,
      width: 24,
      targets: [
        { expr: ratio(',outcome="answered"', NOT_REDIRECTED), legendFormat: '{{node}} SER' },
        { expr: ratio(EFFECTIVE, NOT_REDIRECTED), legendFormat: '{{node}} SEER' },
        { expr: ratio(EFFECTIVE, ''), legendFormat: '{{node}} NER' },
      ],
    },
    seconds(
      'Session request delay (SRD)',
      `INVITE to the first ringing or answer (success) and to a failure with no provisional before it (failure), p50 and p95 over the selected nodes (RFC 6076 4.3). The alert fires when the success p95 exceeds ${T.sessionSetupSlowSeconds} s (the red line).`,
      [
        [0.5, 'sip_session_request_delay_seconds', 'success p50', ',result="success"'],
        [0.95, 'sip_session_request_delay_seconds', 'success p95', ',result="success"'],
        [0.95, 'sip_session_request_delay_seconds', 'failure p95', ',result="failure"'],
      ],
      T.sessionSetupSlowSeconds,
    ),
    seconds(
      'Post-dial delay and registration delay',
      'INVITE to the first 180 or 183 (post-dial delay), and first REGISTER of an attempt to its 2xx, challenge included (RRD, RFC 6076 4.1): p50 and p95.',
      [
        [0.5, 'sip_post_dial_delay_seconds', 'PDD p50'],
        [0.95, 'sip_post_dial_delay_seconds', 'PDD p95'],
        [0.95, 'sip_registration_request_delay_seconds', 'RRD p95'],
      ],
    ),
    {
      title: 'Active sessions',
      description:
        'Dialogs answered and not yet ended by a BYE, the maximum session duration or an eviction, per node.',
      type: 'timeseries',
      unit: 'short',
      targets: [{ expr: `sum by (node) (sip_sessions_active{${K}})`, legendFormat: '{{node}}' }],
    },
    seconds(
      'Session duration',
      '200 OK to BYE (RFC 6076 4.5), p50 and p95; sessions cut by the maximum duration or an eviction are not in it.',
      [
        [0.5, 'sip_session_duration_seconds', 'p50'],
        [0.95, 'sip_session_duration_seconds', 'p95'],
      ],
    ),
    {
      title: 'Registration attempts by outcome',
      description:
        'REGISTER attempts per second by outcome; a challenge round is one attempt, de-registrations are apart.',
      type: 'timeseries',
      unit: 'ops',
      stacked: true,
      targets: [
        {
          expr: `sum by (outcome) (rate(sip_registration_attempts_total{${K}}[${RATE}]))`,
          legendFormat: '{{outcome}}',
        },
      ],
    },
    {
      title: 'Top release causes',
      description:
        'Reason header causes on the finals that end attempts and the BYEs that end dialogs, over the time range (Q.850 34: no circuit available, 17: user busy, 16: normal clearing).',
      type: 'table',
      unit: 'short',
      targets: [
        {
          expr: `topk(15, sum by (protocol, cause) (increase(sip_release_causes_total{${K}}[$__range])))`,
          instant: true,
          format: 'table',
        },
      ],
    },
  ];
  return dashboard(
    'sip-call-kpis',
    'Call KPIs',
    'Session and registration attempts, their outcomes, setup delays and durations (RFC 6076), from sip-response-exporter.',
    [jobVariable, instanceVariable, nodeVariable],
    specs,
  );
}
