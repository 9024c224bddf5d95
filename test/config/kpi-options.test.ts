import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { errorOf } from '../helpers/errors.js';

describe('kpi.* options', () => {
  it('default to KPIs on, Timer C and B/F based timeouts, 4 h sessions and tables for 10,000 calls/s', () => {
    expect(loadConfig({}).kpi).toEqual({
      enabled: true,
      invite_timeout: 190_000,
      non_invite_timeout: 32_000,
      max_session_duration: 4 * 3_600_000,
      max_entries: 1 << 20,
      max_dialogs: 1 << 22,
    });
  });

  it('take flags, the environment and the file alike', () => {
    const config = loadConfig({
      flags: { 'kpi.enabled': 'false', 'kpi.invite-timeout': '5s' },
      env: { SIP_EXPORTER_KPI_MAX_SESSION_DURATION: '1h30m' },
    });
    expect([config.kpi.enabled, config.kpi.invite_timeout, config.kpi.max_session_duration]).toEqual([
      false,
      5000,
      5_400_000,
    ]);
  });

  it('reject values the engine cannot take, naming the key and what it expects', () => {
    const err = errorOf(() =>
      loadConfig({
        flags: {
          'kpi.invite-timeout': '0',
          'kpi.non-invite-timeout': '500ms',
          'kpi.max-session-duration': '30d',
          'kpi.max-entries': '10',
          'kpi.max-dialogs': 'many',
          'kpi.enabled': 'perhaps',
        },
      }),
    );
    expect(err.message).toMatch(/kpi\.invite_timeout: expected from 1s to 24d/);
    expect(err.message).toMatch(/kpi\.non_invite_timeout: expected from 1s to 24d/);
    expect(err.message).toMatch(/kpi\.max_session_duration: expected from 1s to 24d/);
    expect(err.message).toMatch(/kpi\.max_entries: expected a whole number from 64 to 268435456/);
    expect(err.message).toMatch(/kpi\.max_dialogs: expected a whole number/);
    expect(err.message).toMatch(/kpi\.enabled/);
  });
});
