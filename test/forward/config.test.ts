import { describe, expect, it } from 'vitest';
import { configWarnings } from '../../src/config/check.js';
import { loadConfig } from '../../src/config/load.js';
import { CODE } from '../../src/errors.js';
import { errorOf } from '../helpers/errors.js';
import { exporterPerTest } from '../helpers/exporter.js';

describe('forwarding configuration', () => {
  const e = exporterPerTest();

  it('is off by default, with bounded queues', () => {
    const hep = loadConfig({}).hep;
    expect(hep.forward_address).toEqual([]);
    expect(hep.forward_transport).toBe('udp');
    expect(hep.forward_queue).toBe(4096);
    expect(hep.forward_queue_bytes).toBe(4_194_304);
  });

  it('takes targets separated by commas from a flag and the environment, and a list from the file', () => {
    const fromFlag = loadConfig({ flags: { 'hep.forward-address': 'homer:9060, [::1]:9061' } });
    expect(fromFlag.hep.forward_address.map((t) => t.text)).toEqual(['homer:9060', '[::1]:9061']);
    const fromEnv = loadConfig({ env: { SIP_EXPORTER_HEP_FORWARD_ADDRESS: '10.0.0.8:9060' } });
    expect(fromEnv.hep.forward_address).toEqual([{ host: '10.0.0.8', port: 9060, text: '10.0.0.8:9060' }]);
  });

  it('refuses a bad target, naming the key and what is wrong, with SRE_ERR_CONFIG', () => {
    const err = errorOf(() => loadConfig({ flags: { 'hep.forward-address': 'homer:9060,homer' } }));
    expect(err.code).toBe(CODE.SRE_ERR_CONFIG);
    expect(err.message).toContain('hep.forward_address: "homer" has no port (write host:port)');
    expect(err.message).toContain('(from --hep.forward-address)');
    expect(errorOf(() => loadConfig({ flags: { 'hep.forward-transport': 'sctp' } })).message).toContain(
      'hep.forward_transport',
    );
    expect(errorOf(() => loadConfig({ flags: { 'hep.forward-queue-bytes': '1000' } })).message).toContain(
      'hep.forward_queue_bytes: expected a whole number from 65535',
    );
  });

  it('warns when there is no HEP listener to forward from', () => {
    const codes = (flags: Record<string, string>) => configWarnings(loadConfig({ flags })).map((w) => w.code);
    expect(codes({ 'hep.listen-address': '', 'hep.forward-address': 'homer:9060' })).toContain(
      CODE.SRE_WARN_HEP_FORWARD_UNUSED,
    );
    expect(codes({ 'hep.forward-address': 'homer:9060' })).not.toContain(CODE.SRE_WARN_HEP_FORWARD_UNUSED);
  });

  it('needs a restart to change targets, and says so on reload', async () => {
    const exporter = await e.start({ 'syslog.listen-address': '', 'hep.forward-address': '127.0.0.1:9' });
    const next = loadConfig({
      flags: {
        'web.listen-address': '127.0.0.1:0',
        'hep.listen-address': '127.0.0.1:0',
        'syslog.listen-address': '',
        'log.level': 'silent',
        'hep.forward-address': '127.0.0.1:10',
      },
    });
    expect(exporter.reload(next)).toContain('hep.forward_address');
    expect(exporter.source('hep').forwarder!.targets.map((t) => t.target.text)).toEqual(['127.0.0.1:9']);
  });
});
