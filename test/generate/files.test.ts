import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DATASOURCE_UID, dashboards } from '../../generate/dashboards.js';
import { shippedExpressions } from '../../generate/expressions.js';
import { generatedFiles, PROMETHEUS_RULE_FILE, RULES_FILE } from '../../generate/files.js';
import { allPanels, type QueryVariable } from '../../generate/grafana.js';
import { ruleGroups } from '../../generate/rules.js';
import { SETTINGS, THRESHOLDS } from '../../generate/thresholds.js';
import { requirePeer } from '../helpers/peers.js';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/**
 * The anchors GitHub gives the headings of a Markdown page: lower case, punctuation but hyphens
 * and underscores dropped, spaces to hyphens, a repeated slug numbered from -1.
 */
function githubAnchors(markdown: string): string[] {
  const seen = new Map<string, number>();
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^#{1,6} +(.+?) *#*$/.exec(line);
    if (m === null) continue;
    const slug = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.push(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/**
 * The units that fit what a query returns: a share is a ratio, a rate of seconds is a ratio too
 * (seconds per second), a rate of bytes is bytes per second, any other rate is per second, an
 * increase or a plain gauge is a count, unless the gauge is in bytes or seconds.
 */
function unitsFor(expr: string): string[] {
  const code = expr.replace(/"[^"]*"/g, '""');
  if (/\bhistogram_quantile\(/.test(code) && /_seconds_bucket\b/.test(code)) return ['s', 'ms'];
  if (/\//.test(code)) return ['percentunit'];
  // A ratio a recording rule keeps (level:metric:ratio5m).
  if (/^\w+:\w+:ratio\w*\{/.test(code)) return ['percentunit'];
  if (/\b(rate|irate)\(\s*\w*_seconds_\w*total\b/.test(code)) return ['percentunit'];
  if (/\b(rate|irate)\(\s*\w*_bytes_\w*total\b/.test(code)) return ['Bps', 'binBps'];
  if (/\b(rate|irate)\(/.test(code)) return ['ops', 'reqps', 'pps', 'cps'];
  if (/\bincrease\(/.test(code)) return ['short', 'none'];
  if (/\b\w+_bytes\b/.test(code)) return ['bytes', 'decbytes'];
  if (/\b\w+_seconds\b/.test(code)) return ['s', 'ms'];
  return ['short', 'none', 'bool'];
}

/** Drops every rate(...)/irate(...)/increase(...) call; a counter left over is used raw. */
function withoutRateCalls(expr: string): string {
  let out = expr;
  for (;;) {
    const m = /\b(rate|irate|increase)\(/.exec(out);
    if (m === null) return out;
    let depth = 0;
    let end = m.index + m[0].length - 1;
    for (; end < out.length; end++) {
      if (out[end] === '(') depth++;
      else if (out[end] === ')' && --depth === 0) break;
    }
    out = out.slice(0, m.index) + out.slice(end + 1);
  }
}

describe('generated rules and dashboards', () => {
  it('are committed exactly as `npm run generate` writes them', () => {
    for (const [path, content] of generatedFiles()) {
      expect(existsSync(join(root, path)), `${path} is missing; run npm run generate`).toBe(true);
      expect(read(path), `${path} differs from the generator; run npm run generate`).toBe(content);
    }
  });

  it('pass promtool check rules, and the promtool unit tests of every alert', () => {
    const promtool = requirePeer('promtool', 'prometheus');
    expect(
      execFileSync(promtool, ['check', 'rules', join(root, RULES_FILE)], { encoding: 'utf8' }),
    ).toContain('SUCCESS');
    const files = readdirSync(join(root, 'deploy/prometheus/tests'))
      .filter((f) => f.endsWith('.test.yml'))
      .map((f) => `deploy/prometheus/tests/${f}`);
    expect(files).toContain('deploy/prometheus/tests/alerts.test.yml');
    const tests = execFileSync(promtool, ['test', 'rules', ...files.map((f) => join(root, f))], {
      encoding: 'utf8',
    });
    expect(tests.match(/SUCCESS/g)).toHaveLength(files.length);
    // Every alert has a test that fires it and one where it must stay quiet.
    const testFile = files.map(read).join('\n');
    for (const name of new Set(
      ruleGroups().flatMap((g) =>
        g.rules.filter((r) => 'alert' in r).map((r) => (r as { alert: string }).alert),
      ),
    )) {
      expect(testFile).toMatch(new RegExp(`alertname: ${name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
      expect(testFile).toMatch(new RegExp(`alertname: ${name},? ?\\n?\\s*exp_alerts: \\[\\]`));
    }
  });

  it('give every alert a severity, summary, templated description and runbook link into docs/runbooks.md', () => {
    for (const rule of ruleGroups().flatMap((g) => g.rules)) {
      if (!('alert' in rule)) continue;
      expect(['warning', 'critical']).toContain(rule.labels.severity);
      // Per-node alerts name the node; per-peer alerts the peer; the exporter's own alerts the
      // instance; a missing job its job.
      const subject = rule.alert.startsWith('SIPExporter')
        ? rule.alert === 'SIPExporterMissing'
          ? '{{ $labels.job }}'
          : '{{ $labels.instance }}'
        : rule.alert.startsWith('SIPPeer')
          ? '{{ $labels.peer }}'
          : '{{ $labels.node }}';
      expect(rule.annotations.description, rule.alert).toContain(subject);
      expect(rule.annotations.description, rule.alert).toContain('{{ $value');
      expect(rule.annotations.runbook_url).toBe(`${SETTINGS.runbookUrl}#${rule.alert.toLowerCase()}`);
      expect(rule.for).toMatch(/^\d+m$/);
    }
  });

  it('link every alert to an anchor that exists in docs/runbooks.md of this repository', () => {
    const pkg = JSON.parse(read('package.json')) as { repository: { type: string; url: string } };
    const repository = pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
    expect(SETTINGS.runbookUrl).toBe(`${repository}/blob/main/docs/runbooks.md`);
    const anchors = githubAnchors(read('docs/runbooks.md'));
    const urls = ruleGroups()
      .flatMap((g) => g.rules)
      .flatMap((r) => ('alert' in r ? [r.annotations.runbook_url] : []));
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) {
      const [page, anchor] = url.split('#');
      expect(page, url).toBe(SETTINGS.runbookUrl);
      expect(anchors, url).toContain(anchor);
    }
    // The generated files carry the same links (the PrometheusRule too).
    for (const file of [RULES_FILE, PROMETHEUS_RULE_FILE]) {
      for (const m of read(file).matchAll(/runbook_url: (\S+)/g)) expect(urls, file).toContain(m[1]);
    }
  });

  it('keep every threshold in one place, which the runbooks state', () => {
    const runbooks = read('docs/runbooks.md');
    for (const [name, value] of Object.entries(THRESHOLDS)) {
      expect(runbooks).toContain(`| \`${name}\` | ${value} |`);
    }
    for (const [name, value] of Object.entries(SETTINGS)) {
      const shown = Array.isArray(value) ? value.map((v) => `\`${v}\``).join(', ') : `\`${value}\``;
      expect(runbooks).toContain(`| \`${name}\` | ${shown} |`);
    }
  });

  it('follow the dashboard linter: datasource variable, units, descriptions, counters only in rate()', () => {
    for (const { file, json } of dashboards()) {
      expect(json.templating.list[0]).toMatchObject({ name: 'datasource', type: 'datasource' });
      const names = json.templating.list.map((v) => v.name);
      for (const v of ['job', 'instance']) expect(names).toContain(v);
      const ids = json.panels.flatMap((p) => [p.id, ...(p.type === 'row' ? p.panels.map((q) => q.id) : [])]);
      expect(new Set(ids).size, file).toBe(ids.length);
      for (const p of allPanels(json)) {
        const where = `${file}: ${p.title}`;
        expect(p.description, where).toBeTruthy();
        expect(p.fieldConfig.defaults.unit, where).toBeTruthy();
        expect(p.datasource?.uid, where).toBe(DATASOURCE_UID);
        expect(p.gridPos!.x + p.gridPos!.w, where).toBeLessThanOrEqual(24);
        for (const t of p.targets) {
          expect(t.datasource?.uid, where).toBe(DATASOURCE_UID);
          // The unit Grafana shows this series in: the panel's, or the override for its query.
          const override = p.fieldConfig.overrides.find(
            (o) => o.matcher.id === 'byFrameRefID' && o.matcher.options === t.refId,
          );
          const unit =
            override?.properties.find((q) => q.id === 'unit')?.value ?? p.fieldConfig.defaults.unit;
          expect(unitsFor(t.expr), `${where} (${t.refId}): unit ${unit} for ${t.expr}`).toContain(unit);
          expect(withoutRateCalls(t.expr), `${where}: a counter outside rate()`).not.toMatch(/_total\b/);
          for (const window of t.expr.matchAll(/\[([^\]]+)\]/g)) {
            // Rates follow Grafana's interval; an increase covers the range; the 503 baseline is an hour.
            expect(['$__rate_interval', '$__range', '1h'], `${where}: window ${window[1]}`).toContain(
              window[1],
            );
          }
        }
      }
    }
    // The call KPI dashboard selects nodes with attempts, which come from HEP only: no source or method.
    const sipDashboards = dashboards().filter(
      (d) => !d.file.includes('health') && !d.file.includes('call-kpis'),
    );
    for (const d of sipDashboards) {
      const names = d.json.templating.list.map((v) => v.name);
      for (const v of ['source', 'node', 'method']) expect(names, d.file).toContain(v);
      // The source choice narrows the node list and every panel, and keeps everything where the
      // exporter has no sip_exporter_node_info (an "unless another source", not an "and").
      const json = d.json;
      const node = json.templating.list.find((v) => v.name === 'node') as QueryVariable;
      expect(node.definition, d.file).toContain('source!~"$source"');
      for (const p of allPanels(json)) {
        for (const t of p.targets) {
          const selections = t.expr.match(/\(sip_responses_total\{/g)?.length ?? 0;
          const filters =
            t.expr.match(
              /unless on \(job, instance, node\) sip_exporter_node_info\{[^}]*source!~"\$source"\}/g,
            )?.length ?? 0;
          expect(filters, `${d.file}: ${p.title}`).toBe(selections);
        }
      }
    }
  });

  it('narrow nodes and panels by source where sip_exporter_node_info exists, and keep all where not', () => {
    const promtool = requirePeer('promtool', 'prometheus');
    const overview = dashboards().find((d) => d.file.includes('overview'))!.json;
    const byNode = allPanels(overview).find((p) => p.title === 'Responses by node')!.targets[0].expr;
    const nodeList = (
      overview.templating.list.find((v) => v.name === 'node') as QueryVariable
    ).definition.replace(/^query_result\((.*)\)$/s, '$1');
    // As Grafana sends it with one source chosen and everything else "All".
    const sent = (expr: string, source: string) =>
      expr
        .replaceAll('$__rate_interval', '1m')
        .replaceAll('$source', source)
        .replace(/\$(job|instance|node|method|code|class)\b/g, '.*');
    const responses = (instance: string, node: string) => ({
      series: `sip_responses_total{job="sip-response-exporter",instance="${instance}",node="${node}",code="200",class="2xx",reason="OK",method="INVITE"}`,
      values: '0+60x10',
    });
    const info = (node: string, source: string) => ({
      series: `sip_exporter_node_info{job="sip-response-exporter",instance="new:9467",node="${node}",source="${source}",sender="192.0.2.1"}`,
      values: '1x10',
    });
    // new:9467 reports its nodes' sources; old:9467, an exporter without the gauge, does not.
    const input_series = [
      responses('new:9467', 'edge'),
      responses('new:9467', 'pbx-host'),
      responses('old:9467', 'legacy'),
      info('edge', 'hep'),
      info('pbx-host', 'syslog'),
    ];
    const nodes = (...names: string[]) => names.map((n) => ({ labels: `{node="${n}"}`, value: 1 }));
    const test = {
      rule_files: [],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series,
          promql_expr_test: [
            { expr: sent(byNode, 'hep'), eval_time: '10m', exp_samples: nodes('edge', 'legacy') },
            { expr: sent(byNode, 'syslog'), eval_time: '10m', exp_samples: nodes('pbx-host', 'legacy') },
            {
              expr: sent(byNode, '(hep|syslog)'),
              eval_time: '10m',
              exp_samples: nodes('edge', 'pbx-host', 'legacy'),
            },
            { expr: sent(byNode, '.*'), eval_time: '10m', exp_samples: nodes('edge', 'pbx-host', 'legacy') },
            { expr: sent(nodeList, 'hep'), eval_time: '10m', exp_samples: nodes('edge', 'legacy') },
            {
              expr: sent(nodeList, '.*'),
              eval_time: '10m',
              exp_samples: nodes('edge', 'pbx-host', 'legacy'),
            },
          ],
        },
      ],
    };
    const dir = mkdtempSync(join(tmpdir(), 'sre-source-'));
    try {
      writeFileSync(join(dir, 'source.test.yml'), stringifyYaml(test, { lineWidth: 0 }));
      const out = execFileSync(promtool, ['test', 'rules', join(dir, 'source.test.yml')], {
        encoding: 'utf8',
      });
      expect(out).toContain('SUCCESS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ship Grafana provisioning for the data source and the dashboards', () => {
    const datasource = parseYaml(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: Array<{ type: string }>;
    };
    expect(datasource.datasources[0].type).toBe('prometheus');
    const provider = parseYaml(read('deploy/grafana/provisioning/dashboards/sip-response-exporter.yml')) as {
      providers: Array<{ options: { path: string } }>;
    };
    expect(provider.providers[0].options.path).toBeTruthy();
  });

  it('contain every PromQL expression once in the list the lab evaluates', () => {
    const all = shippedExpressions();
    expect(all.length).toBeGreaterThan(40);
    expect(all.every((e) => e.expr.trim() !== '')).toBe(true);
  });
});
