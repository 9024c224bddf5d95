import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { VariableModel } from '@grafana/schema';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import {
  allPanels,
  type GrafanaDashboard,
  type HeatmapPanel,
  type TimeSeriesPanel,
} from '../../generate/grafana.js';
import { callKpis } from '../../generate/kpi-dashboard.js';

const kpis = callKpis();
const heatmap = allPanels(kpis).find((p): p is HeatmapPanel => p.type === 'heatmap')!;
const series = allPanels(kpis).find((p): p is TimeSeriesPanel => p.type === 'timeseries')!;

/**
 * What the Grafana types refuse, one mistake a line. Each directive names a word the compiler's
 * message must contain; `tsc --noEmit` fails if a line stops being an error, and the test below
 * checks each is the error meant, not some other one.
 */
const refused = [
  {
    ...heatmap,
    // @ts-expect-error descripton: a panel field Grafana does not know
    descripton: 'a typo',
  } satisfies HeatmapPanel,
  {
    ...heatmap,
    // @ts-expect-error calculte: a heatmap option Grafana does not know
    options: { ...heatmap.options, calculte: false },
  } satisfies HeatmapPanel,
  {
    ...heatmap,
    // @ts-expect-error unti: not a field of the heatmap's y axis
    options: { ...heatmap.options, yAxis: { unti: 's' } },
  } satisfies HeatmapPanel,
  {
    ...heatmap,
    // @ts-expect-error HeatmapColorMode: the colour mode is Grafana's enum, not any string
    options: { ...heatmap.options, color: { ...heatmap.options.color, mode: 'schema' } },
  } satisfies HeatmapPanel,
  {
    ...series,
    // @ts-expect-error lineWidht: not a field of the time series' custom field config
    fieldConfig: { ...series.fieldConfig, defaults: { custom: { lineWidht: 1 } } },
  } satisfies TimeSeriesPanel,
  {
    ...series,
    // @ts-expect-error legendFromat: not a field of a Prometheus query
    targets: [{ refId: 'A', expr: 'up', legendFromat: '{{node}}' }],
  } satisfies TimeSeriesPanel,
  {
    ...series,
    // @ts-expect-error heatmapp: not a format of a Prometheus query
    targets: [{ refId: 'A', expr: 'up', format: 'heatmapp' }],
  } satisfies TimeSeriesPanel,
  {
    ...kpis,
    // @ts-expect-error schemaVersoin: a dashboard field Grafana does not know
    schemaVersoin: 42,
  } satisfies GrafanaDashboard,
  {
    ...kpis.templating.list[1],
    // @ts-expect-error includAll: a variable field Grafana does not know
    includAll: true,
  } satisfies VariableModel,
];

const DIRECTIVE = /^\s*\/\/ @ts-expect-error (\S+):/;

/** Type-checks this file as the project does, with its expect-error directives taken out. */
function errorsWithoutDirectives(): Array<{ line: number; message: string }> {
  const file = import.meta.filename;
  const root = join(dirname(file), '..', '..');
  const source = readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => (DIRECTIVE.test(line) ? '' : line))
    .join('\n');
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const host = ts.createCompilerHost(config.options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, source, language) : read(name, language, ...rest);
  const program = ts.createProgram([file], { ...config.options, noEmit: true }, host);
  const sourceFile = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, sourceFile).map((d) => ({
    line: sourceFile.getLineAndCharacterOfPosition(d.start ?? 0).line + 1,
    message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  }));
}

describe('the Grafana types of the dashboard generators', () => {
  it('make every mistake above a compile error, each the one its line names', { timeout: 60_000 }, () => {
    const lines = readFileSync(import.meta.filename, 'utf8').split('\n');
    const expected = lines.flatMap((line, i) => {
      const m = DIRECTIVE.exec(line);
      return m === null ? [] : [{ line: i + 2, word: m[1] }];
    });
    expect(expected).toHaveLength(refused.length);
    const errors = errorsWithoutDirectives();
    expect(errors.map((e) => e.line)).toEqual(expected.map((e) => e.line));
    for (const [i, e] of errors.entries()) expect(e.message, `line ${e.line}`).toContain(expected[i].word);
  });

  it('accept the dashboards the generators build', () => {
    // The same objects, spread back into the types: what the mistakes above start from compiles.
    const ok: HeatmapPanel[] = [{ ...heatmap, options: { ...heatmap.options } }];
    expect(ok[0].options.calculate).toBe(false);
    expect(kpis satisfies GrafanaDashboard).toBe(kpis);
  });
});
