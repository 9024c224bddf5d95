import { dashboards } from './dashboards.js';
import { allPanels } from './grafana.js';
import { ruleGroups } from './rules.js';

export interface NamedExpression {
  where: string;
  expr: string;
}

/** Every PromQL expression the project ships: each rule, and each dashboard query. */
export function shippedExpressions(): NamedExpression[] {
  const out: NamedExpression[] = [];
  for (const group of ruleGroups()) {
    for (const rule of group.rules)
      out.push({ where: 'record' in rule ? rule.record : rule.alert, expr: rule.expr });
  }
  for (const { json } of dashboards()) {
    // Those of collapsed rows too: they load when the row is opened.
    for (const p of allPanels(json)) {
      for (const t of p.targets) out.push({ where: `${json.title} / ${p.title}`, expr: t.expr });
    }
  }
  return out;
}

/**
 * A dashboard query as Prometheus would receive it from Grafana: the built-in intervals and the
 * template variables (all set to "All") replaced.
 */
export function asGrafanaSends(expr: string, range = '10m'): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', range)
    .replace(/\$(job|instance|source|node|method|code|class|peer|direction)\b/g, '.*');
}
