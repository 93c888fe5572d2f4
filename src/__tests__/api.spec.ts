import { ServerConnection } from '@jupyterlab/services';

import { GPUScopeAPI } from '../api';

function settingsAnswering(status: number, body: unknown) {
  const calls: string[] = [];
  const fetch = async (input: RequestInfo | URL) => {
    calls.push(String(typeof input === 'string' ? input : (input as Request).url));
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/user/ann/',
    wsUrl: 'ws://localhost:8888/user/ann/',
    token: 'secret',
    fetch: fetch as typeof window.fetch
  });
  return { settings, calls };
}

describe('GPUScopeAPI', () => {
  it('asks the extension routes under the base URL', async () => {
    const { settings, calls } = settingsAnswering(200, { samples: [] });
    const api = new GPUScopeAPI(settings);
    await api.samples(41);
    await api.devices();
    expect(calls[0]).toMatch(
      /^http:\/\/localhost:8888\/user\/ann\/gpuscope\/api\/samples\?since=41/
    );
    expect(calls[1]).toMatch(/\/user\/ann\/gpuscope\/api\/devices/);
  });

  it("surfaces the server's 400 message", async () => {
    const { settings } = settingsAnswering(400, {
      message: "'since' must be a sample sequence number"
    });
    const api = new GPUScopeAPI(settings);
    await expect(api.samples(-1)).rejects.toThrow("'since' must be a sample sequence number");
  });

  it('fetches the policy once for every plugin, and keep as a POST with the kernel id', async () => {
    const { settings, calls } = settingsAnswering(200, { lint_target: 'T4' });
    const api = new GPUScopeAPI(settings);
    const [first, second] = await Promise.all([api.policy(), api.policy()]);
    expect(first.lint_target).toBe('T4');
    expect(second).toBe(first);
    expect(calls.filter(url => url.includes('/gpuscope/api/policy'))).toHaveLength(1);
    await api.keepKernel('k1');
    expect(calls[calls.length - 1]).toMatch(/\/gpuscope\/api\/keep/);
  });

  it('shares one devices request between plugins asking at once, and asks again later', async () => {
    const { settings, calls } = settingsAnswering(200, { status: 'ok', devices: [] });
    const api = new GPUScopeAPI(settings);
    const devicesCalls = () => calls.filter(url => url.includes('/gpuscope/api/devices')).length;
    await Promise.all([api.devices(), api.devices(), api.devices()]);
    expect(devicesCalls()).toBe(1);
    // Devices change (a lost GPU, a driver back): a later call reads them again.
    await api.devices();
    expect(devicesCalls()).toBe(2);
  });

  it('asks again for devices after a failed request', async () => {
    const { settings, calls } = settingsAnswering(500, { message: 'boom' });
    const api = new GPUScopeAPI(settings);
    await expect(api.devices()).rejects.toThrow();
    await expect(api.devices()).rejects.toThrow();
    expect(calls.filter(url => url.includes('/gpuscope/api/devices'))).toHaveLength(2);
  });
});
