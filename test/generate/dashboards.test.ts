import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDashboard } from '@grafana/schema';
import { describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { dashboards } from '../../generate/dashboards.js';
import { asGrafanaSends } from '../../generate/expressions.js';
import {
  allPanels,
  type DashboardPanel,
  type GrafanaDashboard,
  type HeatmapPanel,
  type PromAnnotation,
  type QueryVariable,
} from '../../generate/grafana.js';
import { callKpis } from '../../generate/kpi-dashboard.js';
import { ruleGroups } from '../../generate/rules.js';
import { requirePeer } from '../helpers/peers.js';

interface Query {
  where: string;
  expr: string;
}

/**
 * Every PromQL a dashboard sends: each panel's queries (those in collapsed rows too), each
 * annotation's, and the series each query variable reads its values from.
 */
function dashboardQueries(json: GrafanaDashboard): Query[] {
  const out: Query[] = [];
  for (const p of allPanels(json)) {
    for (const t of p.targets) out.push({ where: `${json.title} / ${p.title} (${t.refId})`, expr: t.expr });
  }
  for (const a of json.annotations.list) {
    const target = (a as PromAnnotation).target;
    if (target !== undefined) out.push({ where: `${json.title} / annotation ${a.name}`, expr: target.expr });
  }
  for (const v of json.templating.list) {
    if (v.type !== 'query') continue;
    const definition = (v as QueryVariable).definition;
    const m = /^query_result\((.*)\)$/s.exec(definition) ?? /^label_values\((.*),\s*\w+\)$/s.exec(definition);
    expect(m, `${json.title}: variable ${v.name}: ${definition}`).not.toBeNull();
    out.push({ where: `${json.title} / variable ${v.name}`, expr: m![1] });
  }
  return out;
}

/** Runs `promtool check rules` on the expressions as recording rules; the output and exit status. */
function promtoolCheck(queries: Query[]): { ok: boolean; output: string } {
  const promtool = requirePeer('promtool', 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'sre-dashboards-'));
  const file = join(dir, 'dashboards.rules.yml');
  const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asGrafanaSends(q.expr) }));
  writeFileSync(file, stringifyYaml({ groups: [{ name: 'dashboards', rules }] }, { lineWidth: 0 }));
  try {
    return {
      ok: true,
      output: execFileSync(promtool, ['check', 'rules', file], { encoding: 'utf8', stdio: 'pipe' }),
    };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs one promtool unit test of PromQL expressions over the given series. */
function promtoolExprTest(input_series: Array<{ series: string; values: string }>, tests: unknown[]): string {
  const promtool = requirePeer('promtool', 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'sre-dashboards-'));
  const file = join(dir, 'dashboards.test.yml');
  const test = {
    rule_files: [],
    evaluation_interval: '1m',
    tests: [{ interval: '1m', input_series, promql_expr_test: tests }],
  };
  writeFileSync(file, stringifyYaml(test, { lineWidth: 0 }));
  try {
    return execFileSync(promtool, ['test', 'rules', file], { encoding: 'utf8', stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether two grid positions share any cell. */
function overlap(a: DashboardPanel['gridPos'], b: DashboardPanel['gridPos']): boolean {
  return a!.x < b!.x + b!.w && b!.x < a!.x + a!.w && a!.y < b!.y + b!.h && b!.y < a!.y + a!.h;
}

const kpis = callKpis();
const kpiPanels = allPanels(kpis);
const byTitle = (title: string) => {
  const p = kpiPanels.find((q) => q.title === title);
  expect(p, title).toBeDefined();
  return p!;
};

describe('dashboards', () => {
  it('carry the schema version of the Grafana types that check them', () => {
    for (const { file, json } of dashboards()) {
      expect(json.schemaVersion, file).toBe(defaultDashboard.schemaVersion);
    }
  });

  it('lay out panels without overlap, rows full width, collapsed rows holding their panels', () => {
    for (const { file, json } of dashboards()) {
      const top = json.panels;
      for (let i = 0; i < top.length; i++) {
        for (let j = i + 1; j < top.length; j++) {
          expect(overlap(top[i].gridPos, top[j].gridPos), `${file}: ${top[i].title} / ${top[j].title}`).toBe(
            false,
          );
        }
      }
      for (const row of top) {
        if (row.type !== 'row') continue;
        expect(row.gridPos).toMatchObject({ x: 0, w: 24, h: 1 });
        // Grafana keeps the panels of an open row beside it, of a collapsed one inside it.
        expect(row.panels.length > 0, `${file}: ${row.title}`).toBe(row.collapsed);
        for (const p of row.panels) expect(p.gridPos!.y, p.title).toBeGreaterThan(row.gridPos!.y);
      }
    }
  });

  it('send PromQL that promtool parses: every panel, annotation and variable query', () => {
    const queries = dashboards().flatMap((d) => dashboardQueries(d.json));
    const titles = new Set(
      dashboards().flatMap((d) => allPanels(d.json).map((p) => `${d.json.title} / ${p.title}`)),
    );
    // Every panel is in the list, the peer row's too.
    for (const t of titles)
      expect(
        queries.some((q) => q.where.startsWith(`${t} (`)),
        t,
      ).toBe(true);
    const { ok, output } = promtoolCheck(queries);
    expect(output, queries.map((q, i) => `query_${i}: ${q.where}`).join('\n')).toContain('SUCCESS');
    expect(ok).toBe(true);
    // The check would catch a query that does not parse.
    const broken = promtoolCheck([
      { where: 'broken', expr: 'sum by (le) (rate(x_bucket[$__rate_interval])' },
    ]);
    expect(broken.ok).toBe(false);
    expect(broken.output).toMatch(/unclosed|parse error|unexpected/i);
  });

  it('are listed panel by panel in dashboards/README.md', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'dashboards', 'README.md'), 'utf8');
    for (const { file, json } of dashboards()) {
      const start = readme.indexOf(`\n### ${json.title}\n`);
      expect(start, json.title).toBeGreaterThan(0);
      const section = readme.slice(start + 1).split('\n### ')[0];
      expect(section).toContain(`\`${file.replace('dashboards/', '')}\``);
      const listed = [...section.matchAll(/^ *- (.+)$/gm)].map((m) => m[1]);
      const kind = (p: DashboardPanel) => (p.type === 'timeseries' ? '' : ` (${p.type})`);
      const expected = json.panels.flatMap((p) =>
        p.type === 'row'
          ? [
              `${p.title}: a row${p.collapsed ? ', collapsed' : ''}`,
              ...p.panels.map((q) => `${q.title}${kind(q)}`),
            ]
          : [`${p.title}${kind(p)}`],
      );
      expect(listed, file).toEqual(expected);
    }
  });

  it('read only recording rules that the project ships', () => {
    const records = new Set(
      ruleGroups().flatMap((g) => g.rules.flatMap((r) => ('record' in r ? [r.record] : []))),
    );
    const used = dashboards()
      .flatMap((d) => dashboardQueries(d.json))
      .flatMap((q) =>
        [...q.expr.replace(/"[^"]*"/g, '""').matchAll(/\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b/g)].map((m) => m[0]),
      );
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(records, name).toContain(name);
  });
});

describe('the Call KPIs dashboard', () => {
  const HISTOGRAMS: Array<[string, string, string]> = [
    ['Session request delay (SRD), success', 'sip_session_request_delay_seconds', ',result="success"'],
    ['Session request delay (SRD), failure', 'sip_session_request_delay_seconds', ',result="failure"'],
    ['Post-dial delay (PDD)', 'sip_post_dial_delay_seconds', ''],
    ['Registration request delay (RRD)', 'sip_registration_request_delay_seconds', ''],
    ['Session duration', 'sip_session_duration_seconds', ''],
  ];
  const K = 'job=~"$job",instance=~"$instance",node=~"$node"';

  it.each(HISTOGRAMS)(
    'draws %s as a heatmap of its buckets beside its p50 and p95',
    (title, histogram, selector) => {
      const heatmap = byTitle(title) as HeatmapPanel;
      expect(heatmap.type).toBe('heatmap');
      // Prometheus's buckets as they are: Grafana turns the cumulative `le` counts into one per bucket.
      expect(heatmap.options.calculate).toBe(false);
      expect(heatmap.options.yAxis.unit).toBe('s');
      expect(heatmap.targets).toEqual([
        expect.objectContaining({
          expr: `sum by (le) (increase(${histogram}_bucket{${K}${selector}}[$__rate_interval]))`,
          format: 'heatmap',
          legendFormat: '{{le}}',
        }),
      ]);
      const percentiles = byTitle(`${title}: p50 and p95`);
      expect(percentiles.type).toBe('timeseries');
      expect(percentiles.fieldConfig.defaults.unit).toBe('s');
      expect(percentiles.targets.map((t) => t.expr)).toEqual(
        [0.5, 0.95].map(
          (q) =>
            `histogram_quantile(${q}, sum by (le) (rate(${histogram}_bucket{${K}${selector}}[$__rate_interval])))`,
        ),
      );
      // Side by side: the same line, the heatmap on the left.
      expect(percentiles.gridPos!.y).toBe(heatmap.gridPos!.y);
      expect(heatmap.gridPos).toMatchObject({ x: 0, w: 12 });
      expect(percentiles.gridPos).toMatchObject({ x: 12, w: 12 });
    },
  );

  it('counts each bucket once per interval in the heatmap, success and failure apart', () => {
    const query = (title: string) => asGrafanaSends(byTitle(title).targets[0].expr);
    const bucket = (result: string, le: string, values: string) => ({
      series: `sip_session_request_delay_seconds_bucket{job="sip-response-exporter",instance="a:9467",node="edge",result="${result}",le="${le}"}`,
      values,
    });
    const out = promtoolExprTest(
      [
        bucket('success', '0.5', '0+1x10'),
        bucket('success', '1', '0+3x10'),
        bucket('success', '+Inf', '0+4x10'),
        bucket('failure', '0.5', '0+0x10'),
        bucket('failure', '1', '0+5x10'),
        bucket('failure', '+Inf', '0+5x10'),
      ],
      [
        {
          expr: query('Session request delay (SRD), success'),
          eval_time: '10m',
          exp_samples: [
            { labels: '{le="0.5"}', value: 1 },
            { labels: '{le="1"}', value: 3 },
            { labels: '{le="+Inf"}', value: 4 },
          ],
        },
        {
          expr: query('Session request delay (SRD), failure'),
          eval_time: '10m',
          exp_samples: [
            { labels: '{le="0.5"}', value: 0 },
            { labels: '{le="1"}', value: 5 },
            { labels: '{le="+Inf"}', value: 5 },
          ],
        },
      ],
    );
    expect(out).toContain('SUCCESS');
  });

  it('reads ASR, ISA, SER, SEER and NER per node from the recording rules', () => {
    const exprs = [
      ...byTitle('Answer-seizure ratio (ASR)').targets,
      ...byTitle('Ineffective session attempts (ISA)').targets,
      ...byTitle('SER, SEER and NER').targets,
    ].map((t) => t.expr);
    expect(exprs).toEqual(
      ['asr', 'isa', 'ser', 'seer', 'ner'].map((r) => `sip_node:session_${r}:ratio5m{${K}}`),
    );
  });

  it('has attempts by outcome, active sessions and the top release causes', () => {
    expect(byTitle('Session attempts by outcome').targets[0].expr).toContain(
      'sum by (outcome) (rate(sip_session_attempts_total{',
    );
    expect(byTitle('Active sessions').targets[0].expr).toContain('sip_sessions_active{');
    expect(byTitle('Top release causes').targets[0].expr).toMatch(/^topk\(15, .*sip_release_causes_total\{/);
  });

  it('keeps the per-peer panels in a collapsed row over the raw per-peer families', () => {
    const rows = kpis.panels.filter((p) => p.type === 'row');
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row.collapsed).toBe(true);
    const exprs = row.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.some((e) => e.includes('sip_peer_session_attempts_total{'))).toBe(true);
    expect(exprs.some((e) => e.includes('sip_peer_session_request_delay_seconds_bucket{'))).toBe(true);
    expect(row.panels.some((p) => p.type === 'heatmap')).toBe(true);
    // Inline, so the row needs no per-peer recording rule; and every query follows the peer choice.
    for (const e of exprs) {
      expect(e).not.toMatch(/\b\w+:\w+:\w+\b/);
      expect(e).toContain('peer=~"$peer",direction=~"$direction"');
    }
    const names = kpis.templating.list.map((v) => v.name);
    expect(names).toEqual(['datasource', 'job', 'instance', 'node', 'peer', 'direction']);
  });

  it('computes the per-peer SER, SEER, NER and ISA as RFC 6076 and E.425 define them', () => {
    const sent = (title: string) =>
      byTitle(title).targets.map((t) => ({ legend: t.legendFormat, expr: asGrafanaSends(t.expr) }));
    const attempts = (outcome: string, perMinute: number) => ({
      series: `sip_peer_session_attempts_total{job="sip-response-exporter",instance="a:9467",node="edge",peer="carrier",direction="to_peer",outcome="${outcome}"}`,
      values: `0+${perMinute}x10`,
    });
    // 20 attempts a minute: 8 answered, 4 busy, 4 redirected, 2 ineffective, 2 timed out.
    const input = [
      attempts('answered', 8),
      attempts('busy', 4),
      attempts('redirected', 4),
      attempts('ineffective', 2),
      attempts('timeout', 2),
    ];
    const ratios = sent('SER, SEER and NER by peer');
    expect(ratios.map((r) => r.legend)).toEqual([
      '{{peer}} {{direction}} SER',
      '{{peer}} {{direction}} SEER',
      '{{peer}} {{direction}} NER',
    ]);
    const [isa] = sent('Ineffective session attempts (ISA) by peer');
    // Thousandths, so that the float arithmetic of the division does not decide the test.
    const permille = (expr: string, value: number) => ({
      expr: `round(1000 * (${expr}))`,
      eval_time: '10m',
      exp_samples: [{ labels: '{peer="carrier",direction="to_peer"}', value }],
    });
    const out = promtoolExprTest(input, [
      permille(ratios[0].expr, 500), // SER: 8 / (20 - 4)
      permille(ratios[1].expr, 750), // SEER: (8 + 4) / (20 - 4)
      permille(ratios[2].expr, 600), // NER: (8 + 4) / 20
      permille(isa.expr, 200), // ISA: (2 + 2) / 20
    ]);
    expect(out).toContain('SUCCESS');
  });
});
