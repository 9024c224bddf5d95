import { type ChildProcess, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { spawnExporter } from '../../lab/exporter-log.js';
import { waitFor } from '../../lab/processes.js';

const root = join(import.meta.dirname, '..', '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

/** The Dockerfile's instructions, continuation lines joined, with the stage each belongs to. */
function instructions(): Array<{ op: string; args: string; stage: number }> {
  const out: Array<{ op: string; args: string; stage: number }> = [];
  let stage = -1;
  for (const line of dockerfile.replace(/\\\n\s*/g, ' ').split('\n')) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (m === null) continue;
    if (m[1] === 'FROM') stage++;
    out.push({ op: m[1], args: m[2], stage });
  }
  return out;
}

function buildSteps(): string[] {
  return instructions()
    .filter((i) => i.stage === 0 && i.op === 'RUN')
    .map((i) => i.args.trim());
}

function healthcheck(): string {
  const args = instructions().find((i) => i.op === 'HEALTHCHECK')!.args;
  const cmd = JSON.parse(args.slice(args.indexOf('CMD') + 3).trim()) as string[];
  return cmd[2];
}

describe('Dockerfile', () => {
  it('builds in one stage and runs with production dependencies, an init, a non-root user, probes and labels', () => {
    const ops = instructions();
    const froms = ops.filter((i) => i.op === 'FROM');
    expect(froms).toHaveLength(2);
    expect(froms[0].args).toMatch(/ AS build$/);
    const runtime = ops.filter((i) => i.stage === 1);
    expect(runtime.some((i) => i.op === 'COPY' && i.args.includes('--from=build'))).toBe(true);
    expect(runtime.find((i) => i.op === 'USER')?.args).toBe('node');
    expect(runtime.find((i) => i.op === 'ENTRYPOINT')?.args).toMatch(/^\["\/usr\/bin\/tini", "--", "node"/);
    const exposed = runtime.find((i) => i.op === 'EXPOSE')?.args.split(/\s+/);
    expect(exposed).toEqual(
      expect.arrayContaining(['9467/tcp', '9060/udp', '9060/tcp', '5514/udp', '5514/tcp']),
    );
    expect(runtime.find((i) => i.op === 'HEALTHCHECK')?.args).toContain('/healthz');
    for (const label of ['title', 'description', 'licenses', 'revision']) {
      expect(dockerfile).toContain(`org.opencontainers.image.${label}=`);
    }
    // The build stage runs these commands, in order; the tests below run the same ones.
    expect(buildSteps()).toEqual([
      'apt-get update  && apt-get install -y --no-install-recommends python3 make g++  && rm -rf /var/lib/apt/lists/*',
      'npm ci && test -f build/Release/udp_batch.node',
      'npm run build && npm prune --omit=dev',
    ]);
    // The runtime stage takes the compiled addon alone, not its sources or build tree.
    expect(
      runtime.filter((i) => i.op === 'COPY' && i.args.includes('/src/build/')).map((i) => i.args),
    ).toEqual(['--from=build /src/build/Release/udp_batch.node ./build/Release/udp_batch.node']);
  });
});

/**
 * The Dockerfile's build steps, run outside Docker on a clean clone (there is no Docker engine
 * here). The pruned result is then started as each deployment starts it: the image's entrypoint
 * and HEALTHCHECK, the systemd unit's ExecStart, and the Kubernetes container's args and ConfigMap.
 */
// Each start waits up to 30 s for the exporter (and the demo 30 s more for its calls) on a loaded
// machine; the tests' own limit is above that, so a wait that runs out says which wait it was.
describe('the built exporter, started as each deployment starts it', { timeout: 90_000 }, () => {
  let dir = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sre-image-'));
    execFileSync('git', ['clone', '--quiet', '--depth', '1', `file://${root}`, dir]);
    // The toolchain the first step installs in the image is already on a CI machine.
    for (const command of buildSteps().filter((c) => !c.startsWith('apt-get '))) {
      execFileSync('sh', ['-c', command], { cwd: dir, stdio: 'pipe', timeout: 300_000 });
    }
  }, 600_000);

  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Every listener on a loopback port the kernel picks, never the defaults; the exporter logs what
   * it bound (its log level is the deployment's: info).
   */
  const PORT_ZERO = [
    '--web.listen-address=127.0.0.1:0',
    '--hep.listen-address=127.0.0.1:0',
    '--syslog.listen-address=127.0.0.1:0',
  ];

  async function runAndScrape(
    args: string[],
    whileUp: (web: number) => void | Promise<void> = () => undefined,
  ): Promise<void> {
    const started: ChildProcess[] = [];
    try {
      const { child, web, log } = await spawnExporter(
        [...args, ...PORT_ZERO],
        { cwd: dir, env: { ...process.env, NODE_ENV: 'production' } },
        started,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${web}/metrics`)).text();
      expect(metrics).toMatch(/^sip_exporter_build_info\{version="\d+\.\d+\.\d+"/m);
      // The built addon is in use, except in the suite's second pass, which turns it off.
      const path = process.env.UDP_BATCH_ADDON === 'off' ? 'dgram' : 'batch';
      expect(metrics).toContain(`sip_exporter_udp_receive_path{listener="hep",path="${path}"} 1`);
      await whileUp(web);
      child.kill('SIGTERM');
      const [code] = child.exitCode === null ? await once(child, 'exit') : [child.exitCode];
      expect(code, log()).toBe(0);
    } finally {
      for (const child of started) child.kill('SIGKILL');
    }
  }

  it('keeps only production dependencies', () => {
    expect(existsSync(join(dir, 'node_modules', 'vitest'))).toBe(false);
    expect(existsSync(join(dir, 'node_modules', 'hep-js'))).toBe(false);
    expect(existsSync(join(dir, 'node_modules', 'prom-client'))).toBe(true);
    expect(existsSync(join(dir, 'build', 'Release', 'udp_batch.node'))).toBe(true);
  });

  it('starts as the image does, passes its HEALTHCHECK, and stops on SIGTERM', async () => {
    const args = [
      join(dir, 'dist/src/cli.js'),
      `--config.file=${join(dir, 'deploy/sip-response-exporter.yml')}`,
    ];
    await runAndScrape(args, (web) => {
      execFileSync(process.execPath, ['-e', healthcheck().replace('127.0.0.1:9467', `127.0.0.1:${web}`)], {
        timeout: 20_000,
      });
    });
  });

  it('plays the demo as the compose demo profile starts it, from the capture the image copies', async () => {
    // The runtime stage puts the capture beside package.json, where --demo looks for it.
    const runtime = instructions().filter((i) => i.stage === 1);
    expect(runtime.find((i) => i.op === 'WORKDIR')?.args).toBe('/app');
    expect(runtime.some((i) => i.op === 'COPY' && i.args === 'demo/lab.pcap ./demo/lab.pcap')).toBe(true);
    const compose = parseYaml(readFileSync(join(root, 'deploy/compose/docker-compose.yml'), 'utf8')) as {
      services: Record<string, { command: string[] }>;
    };
    const args = compose.services['sip-response-exporter-demo'].command.map((a) =>
      a.replace('/etc/sip-response-exporter/config.yml', join(dir, 'deploy/sip-response-exporter.yml')),
    );
    expect(args).toContain('--demo');
    await runAndScrape([join(dir, 'dist/src/cli.js'), ...args], async (web) => {
      await waitFor(
        'demo calls on /metrics',
        async () =>
          /^sip_session_attempts_total\{node="demo",outcome="answered"\} [1-9]/m.test(
            await (await fetch(`http://127.0.0.1:${web}/metrics`)).text(),
          ),
        30_000,
      );
    });
  });

  it("starts with the systemd unit's ExecStart", async () => {
    const unit = readFileSync(join(root, 'deploy/systemd/sip-response-exporter.service'), 'utf8');
    const execStart = /^ExecStart=(.*)$/m.exec(unit)![1].split(/\s+/);
    expect(execStart[0]).toBe('/usr/bin/node');
    const args = execStart
      .slice(1)
      .filter((a) => a !== '$SIP_EXPORTER_ARGS')
      .map((a) =>
        a
          .replace('/opt/sip-response-exporter', dir)
          .replace('/etc/sip-response-exporter/config.yml', join(dir, 'deploy/sip-response-exporter.yml')),
      );
    await runAndScrape(args);
  });

  it("starts with the Kubernetes container's args and ConfigMap", async () => {
    const deployment = parseYaml(readFileSync(join(root, 'deploy/kubernetes/deployment.yaml'), 'utf8')) as {
      spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
    };
    const args = deployment.spec.template.spec.containers[0].args.map((a) =>
      a.replace('/etc/sip-response-exporter/config.yml', join(dir, 'deploy/kubernetes/config.yml')),
    );
    await runAndScrape([join(dir, 'dist/src/cli.js'), ...args]);
  });
});
