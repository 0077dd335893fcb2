// Fault: the API server hangs during a run. A loopback proxy in front of the shared kube-apiserver stops
// forwarding (the harness's server is shared by every test file, so it is never SIGSTOPped itself); the bot's
// kubeconfig points at the proxy and its request timeouts are a few seconds. The run must end within its bound
// with an error naming the API server, with every status it opened closed, and the next push, once the API
// server answers again, must apply.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { loadKubeConfig, makeObjectApi, setKubeTimeouts } from "../../src/cluster/kube-client.js";
import { replyPushHead } from "../support/branch-head-nock.js";
import {
  finalStatuses,
  INSTALLATION_ID,
  OWNER,
  pushExample,
  REPO,
  randomSha,
  replyRepoConfig,
  replyTarball,
  repoConfigYaml,
  startBot,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { createNamespace, exists, testObjectApi } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

const base = `/repos/${OWNER}/${REPO}`;
const TIMEOUTS = { connectMs: 2_000, readMs: 2_000, requestMs: 3_000 };

let github: GitHubMock | undefined;
let proxy: TcpProxy;
let kubeconfig: string;
afterEach(() => github?.cleanup());

beforeAll(async () => {
  const original = readFileSync(inject("kubeconfigPath"), "utf8");
  const server = /server:\s*https:\/\/127\.0\.0\.1:(\d+)/.exec(original);
  if (!server) throw new Error("the harness kubeconfig names no https://127.0.0.1:<port> server");
  proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(server[1]) });
  kubeconfig = join(mkdtempSync(join(tmpdir(), "faults-kube-")), "kubeconfig");
  writeFileSync(kubeconfig, original.replace(server[0], `server: https://${proxy.address}`));
  setKubeTimeouts(TIMEOUTS);
});
afterAll(async () => {
  setKubeTimeouts(undefined);
  await proxy.close();
});

/** Two Kustomizations, `namespaces` then `cms` (dependsOn), in a fresh namespace and cluster path. */
async function twoKustomizations(version: string) {
  const api = testObjectApi();
  const ns = await createNamespace(api, "hang");
  const clusterPath = `clusters/${ns}`;
  const cms = Object.fromEntries(
    Array.from({ length: 5 }, (_, i) => [`cms/${ns}/cm-${i}.yaml`, configMap(`cm-${i}`, { version })]),
  );
  const dir = makeRepo({
    [`${clusterPath}/namespaces.yaml`]: fluxKustomization({
      name: "namespaces",
      namespace: ns,
      path: `./namespaces/${ns}`,
      extra: `  targetNamespace: ${ns}\n`,
    }),
    [`${clusterPath}/cms.yaml`]: fluxKustomization({
      name: "cms",
      namespace: ns,
      path: `./cms/${ns}`,
      extra: `  targetNamespace: ${ns}\n  dependsOn:\n    - name: namespaces\n`,
    }),
    [`namespaces/${ns}/sa.yaml`]: `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n`,
    ...cms,
  });
  return { api, ns, clusterPath, dir };
}

async function startHangBot() {
  return startBot({
    operator: {
      clusters: [{ name: "dev", kubeconfig, repositories: [`${OWNER}/${REPO}`] }],
      images: { enabled: false },
      reports: { pendingStatuses: true },
    },
  });
}

/** A push's GitHub side: config, head, tarball, check run `id`, its updates and `statuses` status writes. */
function pushReplies(
  gh: GitHubMock,
  sha: string,
  dir: string,
  clusterPath: string,
  id: number,
  statuses: number,
) {
  replyRepoConfig(gh, repoConfigYaml([{ name: "dev", path: clusterPath }]));
  replyPushHead(gh, sha);
  replyTarball(gh, dir, sha);
  gh.reply("POST", `${base}/check-runs`, 201, { id });
  const check = gh.reply("PATCH", `${base}/check-runs/${id}`, 200, { id }, { times: 2 });
  const status = gh.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: statuses });
  return { check, status };
}

describe("the API server hangs during a run", () => {
  it("ends the run within its bound, naming the API server, closes its statuses, and applies once it answers", async () => {
    const { api, ns, clusterPath, dir } = await twoKustomizations("1");
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    const bot = await startHangBot();

    // A first push through the proxy: the bot's client holds live keep-alive connections to the API server.
    const first = randomSha();
    const warm = pushReplies(github, first, dir, clusterPath, 31, 6);
    await receive(bot.probot, "push", pushExample(first));
    await bot.app.queue.idle();
    expect(finalStatuses(warm.status)["gitops/dev"]?.state).toBe("success");

    // The API server stops answering: open connections go silent, new ones get no TLS handshake.
    const second = randomSha();
    const hung = pushReplies(github, second, dir, clusterPath, 32, 5);
    proxy.pause();
    const faultStarted = performance.now();
    await receive(bot.probot, "push", pushExample(second));
    await bot.app.queue.idle();
    const toFinalStatus = performance.now() - faultStarted;
    const statuses = finalStatuses(hung.status);
    console.log(
      `API server hang: final statuses ${Math.round(toFinalStatus)} ms after the hang began`,
      statuses,
    );
    expect(toFinalStatus).toBeLessThan(25_000);
    expect(statuses["gitops/dev"]?.state).toMatch(/^(error|failure)$/);
    expect(statuses["gitops/dev"]?.description).toContain(`https://${proxy.address}`);
    expect(Object.values(statuses).filter((s) => s.state === "pending")).toEqual([]);
    const completed = hung.check.requests[1]?.body as {
      status: string;
      conclusion: string;
      output: { summary: string };
    };
    expect(completed).toMatchObject({ status: "completed", conclusion: "failure" });

    // The API server answers again: the next push applies.
    proxy.resume();
    const resumed = performance.now();
    // Deleted behind the bot's back: only an apply after the resume brings it back.
    await api.delete({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm-4", namespace: ns } });
    const third = randomSha();
    const after = pushReplies(github, third, dir, clusterPath, 33, 6);
    await receive(bot.probot, "push", pushExample(third));
    await bot.app.queue.idle();
    console.log(
      `API server hang: next push green ${Math.round(performance.now() - resumed)} ms after it resumed`,
    );
    expect(finalStatuses(after.status)["gitops/dev"]?.state).toBe("success");
    expect(await exists(api, "v1", "ConfigMap", "cm-4", ns)).toBe(true);
    github.done();
    await bot.app.close();
  }, 90_000);
});

describe("each request is bounded", () => {
  const apiThroughProxy = (timeouts: Partial<typeof TIMEOUTS>) =>
    makeObjectApi(loadKubeConfig({ kubeconfig }), timeouts);
  const readNamespace = (api: ReturnType<typeof apiThroughProxy>) =>
    api.read({ apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });

  it.each([
    [
      "silent on a live connection (read timeout)",
      { readMs: 1_000, requestMs: 20_000 },
      /sent nothing for 1 s/,
    ],
    [
      "slower than the whole-request bound",
      { readMs: 20_000, requestMs: 1_500 },
      /did not answer GET \/api\/v1\S* within 1\.5 s/,
    ],
    [
      "without a TLS handshake (connect timeout)",
      { connectMs: 1_000, readMs: 20_000, requestMs: 20_000 },
      /cannot connect to the API server .* within 1 s/,
    ],
  ])("%s: fails in time, naming the API server", async (what, timeouts, message) => {
    const api = apiThroughProxy(timeouts);
    // A connection that completes its handshake and then goes silent, except for the handshake case.
    if (what.includes("handshake")) proxy.pause();
    else proxy.hangOnNextRequest();
    const started = performance.now();
    try {
      const failure = await readNamespace(api).then(
        () => undefined,
        (err: unknown) => err as Error,
      );
      const elapsed = performance.now() - started;
      expect(failure?.message, String(failure?.stack)).toMatch(message);
      expect(failure?.message).toContain(`https://${proxy.address}`);
      expect(elapsed).toBeLessThan(
        Math.min(timeouts.requestMs, timeouts.readMs, "connectMs" in timeouts ? timeouts.connectMs : 1e9) +
          1_000,
      );
    } finally {
      proxy.resume();
    }
    await expect(readNamespace(api)).resolves.toMatchObject({ metadata: { name: "default" } });
  });
});
