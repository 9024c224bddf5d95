import { type AlertingRule, link, pct, type RecordingRule, type RuleGroup, ratio } from './rules.js';
import { THRESHOLDS as T } from './thresholds.js';

/**
 * The call KPI rules: RFC 6076 and ITU-T ratios recorded over the attempt counters, and the
 * alerts on them. Each formula and its section are in docs/kpis.md; attempts come from HEP only,
 * so a syslog-only node has none of these series and keeps the response-based answer ratio
 * (SIPResponseAnswerRatioLow in rules.ts).
 */

const BY = 'job, instance, node';

const attempts = (selector = '') => `sum by (${BY}) (rate(sip_session_attempts_total${selector}[5m]))`;

/** Outcomes the called user decided (RFC 6076 4.7, ITU-T E.425): the network did its part. */
const EFFECTIVE = 'outcome=~"answered|busy|declined|unavailable"';

/**
 * Per peer: one leg is one INVITE transaction between a node and a peer (docs/kpis.md, per
 * peer). Node is aggregated away, as for the other per-peer rules: the question is which
 * carrier or customer, whichever proxy reached it. Direction stays: a peer that both sends and
 * receives calls has two sets of ratios (calls it sent us, calls we sent it).
 */
const PEER_BY = 'job, instance, peer, direction';
const legs = (selector = '') => `sum by (${PEER_BY}) (rate(sip_peer_session_attempts_total${selector}[5m]))`;

/** ASR, SER, SEER, ISA and NER over legs, recorded per peer and direction. */
function peerRecordingRules(): RecordingRule[] {
  const all = 'sip_peer_direction:session_attempts:rate5m';
  const notRedirected = 'sip_peer_direction:session_attempts_not_redirected:rate5m';
  return [
    { record: all, expr: legs() },
    {
      record: 'sip_peer_direction_outcome:session_attempts:rate5m',
      expr: `sum by (${PEER_BY}, outcome) (rate(sip_peer_session_attempts_total[5m]))`,
    },
    { record: notRedirected, expr: legs('{outcome!="redirected"}') },
    { record: 'sip_peer_direction:session_asr:ratio5m', expr: ratio(legs('{outcome="answered"}'), all) },
    {
      record: 'sip_peer_direction:session_ser:ratio5m',
      expr: ratio(legs('{outcome="answered"}'), notRedirected),
    },
    { record: 'sip_peer_direction:session_seer:ratio5m', expr: ratio(legs(`{${EFFECTIVE}}`), notRedirected) },
    {
      record: 'sip_peer_direction:session_isa:ratio5m',
      expr: ratio(legs('{outcome=~"ineffective|timeout"}'), all),
    },
    { record: 'sip_peer_direction:session_ner:ratio5m', expr: ratio(legs(`{${EFFECTIVE}}`), all) },
    {
      record: 'sip_peer_direction:session_request_delay_success_seconds:p95_5m',
      expr: `histogram_quantile(0.95, sum by (${PEER_BY}, le) (rate(sip_peer_session_request_delay_seconds_bucket{result="success"}[5m])))`,
    },
  ];
}

export function kpiRuleGroups(): RuleGroup[] {
  const recording: RecordingRule[] = [
    { record: 'sip_node:session_attempts:rate5m', expr: attempts() },
    {
      record: 'sip_node_outcome:session_attempts:rate5m',
      expr: `sum by (${BY}, outcome) (rate(sip_session_attempts_total[5m]))`,
    },
    { record: 'sip_node:session_attempts_not_redirected:rate5m', expr: attempts('{outcome!="redirected"}') },
    // ASR, ITU-T E.411: answered over all attempts.
    {
      record: 'sip_node:session_asr:ratio5m',
      expr: ratio(attempts('{outcome="answered"}'), 'sip_node:session_attempts:rate5m'),
    },
    // SER, RFC 6076 4.6: answered over attempts less redirected ones.
    {
      record: 'sip_node:session_ser:ratio5m',
      expr: ratio(attempts('{outcome="answered"}'), 'sip_node:session_attempts_not_redirected:rate5m'),
    },
    // SEER, RFC 6076 4.7: answered or user-determined over attempts less redirected ones.
    {
      record: 'sip_node:session_seer:ratio5m',
      expr: ratio(attempts(`{${EFFECTIVE}}`), 'sip_node:session_attempts_not_redirected:rate5m'),
    },
    // ISA, RFC 6076 4.8: 408, 500, 503, 504 and local timeouts over all attempts.
    {
      record: 'sip_node:session_isa:ratio5m',
      expr: ratio(attempts('{outcome=~"ineffective|timeout"}'), 'sip_node:session_attempts:rate5m'),
    },
    // NER, ITU-T E.425: answered or user-determined over all attempts.
    {
      record: 'sip_node:session_ner:ratio5m',
      expr: ratio(attempts(`{${EFFECTIVE}}`), 'sip_node:session_attempts:rate5m'),
    },
    // IRA, RFC 6076 4.2: failed and timed-out registration attempts over all.
    {
      record: 'sip_node:registration_ira:ratio5m',
      expr: ratio(
        `sum by (${BY}) (rate(sip_registration_attempts_total{outcome=~"failed|timeout"}[5m]))`,
        `sum by (${BY}) (rate(sip_registration_attempts_total[5m]))`,
      ),
    },
    // SRD of successful setups, RFC 6076 4.3: the 95th percentile.
    {
      record: 'sip_node:session_request_delay_success_seconds:p95_5m',
      expr: `histogram_quantile(0.95, sum by (${BY}, le) (rate(sip_session_request_delay_seconds_bucket{result="success"}[5m])))`,
    },
  ];

  const enough = `sip_node:session_attempts:rate5m > ${T.minAttemptRate}`;
  // A warning on a KPI, raised only where there are enough attempts for the ratio to mean something.
  const warning = (
    alert: string,
    condition: string,
    forDuration: string,
    summary: string,
    description: string,
  ): AlertingRule => ({
    alert,
    expr: `${condition}\nand on (${BY})\n${enough}`,
    for: forDuration,
    labels: { severity: 'warning' },
    annotations: { summary, description, runbook_url: link(alert) },
  });
  const alerts: AlertingRule[] = [
    warning(
      'SIPAnswerSeizureRatioLow',
      `sip_node:session_asr:ratio5m < ${T.answerSeizureRatioWarning}`,
      '15m',
      `Fewer than ${pct(T.answerSeizureRatioWarning)} of call attempts on {{ $labels.node }} are answered`,
      'Only {{ $value | humanizePercentage }} of session attempts (initial INVITEs) on {{ $labels.node }} ' +
        '({{ $labels.instance }}) were answered (ASR, ITU-T E.411). Re-INVITEs and challenges are not attempts.',
    ),
    warning(
      'SIPIneffectiveAttemptsHigh',
      `sip_node:session_isa:ratio5m > ${T.ineffectiveAttemptRatioWarning}`,
      '10m',
      `More than ${pct(T.ineffectiveAttemptRatioWarning)} of call attempts on {{ $labels.node }} are ineffective`,
      '{{ $value | humanizePercentage }} of session attempts on {{ $labels.node }} ({{ $labels.instance }}) ended ' +
        'with 408, 500, 503 or 504 or no final response at all (ISA, RFC 6076 4.8) - the network, not the callee, failed them.',
    ),
    warning(
      'SIPSessionSetupSlow',
      `sip_node:session_request_delay_success_seconds:p95_5m > ${T.sessionSetupSlowSeconds}`,
      '10m',
      `Call setup on {{ $labels.node }} takes more than ${T.sessionSetupSlowSeconds} s at the 95th percentile`,
      'The 95th percentile of the session request delay (INVITE to the first ringing or answer, RFC 6076 4.3) on ' +
        '{{ $labels.node }} ({{ $labels.instance }}) is {{ $value | humanizeDuration }}.',
    ),
  ];
  return [
    { name: 'sip-response-exporter.kpis.recording', rules: recording },
    { name: 'sip-response-exporter.kpis.alerts', rules: alerts },
    { name: 'sip-response-exporter.kpis.peers.recording', rules: peerRecordingRules() },
  ];
}
