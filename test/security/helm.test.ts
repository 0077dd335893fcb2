// Attacks on the Helm side of the trust boundary (issue #9), for real: the real helm binary, the real API server,
// through the engine (reconcileTree), the CLI and probot.receive with a fork's pull request. Each test plants a
// canary (a Secret value, a file on the host) and asserts it never shows in any result, diff, error, comment or
// log line — and that the attack ends with a clear error where it is refused.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, inject, it } from "vitest";
import { main } from "../../src/cli/main.js";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { checkChartFiles } from "../../src/helm/chart-files.js";
import { HelmError, startHelmSession } from "../../src/helm/helm-cli.js";
import type { HelmReleaseResult, RunResult } from "../../src/reconcile/result.js";
import { runSucceeded } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import {
  finalStatuses,
  INSTALLATION_ID,
  OWNER,
  pullRequestExample,
  REPO,
  randomSha,
  replyRepoConfig,
  replyTarball,
  repoConfigYaml,
  startBot,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import {
  defaultValues,
  type HelmRepoServer,
  helm,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
  writeChart,
} from "../support/helm-repo.js";
import { createNamespace, testKubeConfig, testObjectApi, uniqueName } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { configMap, makeRepo, writeTree } from "../support/repo-tree.js";

const cacheDir = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
const base64 = (s: string) => Buffer.from(s).toString("base64");
const canaryValue = () => `canary-${randomBytes(12).toString("hex")}`;

/** Every form of a canary the tests look for. */
function forms(canary: string): string[] {
  return [canary, base64(canary), base64(canary).replace(/=+$/, "")];
}

function expectClean(text: string, canary: string): void {
  for (const form of forms(canary)) expect(text).not.toContain(form);
}

async function createSecret(api: RawObjectApi, ns: string, name: string, data: Record<string, string>) {
  await api.create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: ns },
    stringData: data,
  } as Parameters<RawObjectApi["create"]>[0]);
}

/** A pino logger at trace level whose every line lands in `lines`. */
function capturingLogger() {
  const lines: string[] = [];
  const log = pino({ level: "trace" }, { write: (line: string) => void lines.push(line) });
  return { log, text: () => lines.join("") };
}

function release(run: RunResult, name: string): HelmReleaseResult {
  const found = run.helmReleases?.find((h) => h.name === name);
  if (!found) throw new Error(`no HelmRelease result for ${name}: ${JSON.stringify(run, null, 2)}`);
  return found;
}

/** A chart whose template reads a live Secret with `lookup` (one object and a list) into a ConfigMap. */
function lookupTemplates(ns: string): Record<string, string> {
  return {
    "leak.yaml": `{{- $secret := lookup "v1" "Secret" "${ns}" "canary" }}
{{- $data := $secret.data | default dict }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-leak
data:
  rendered: "yes"
  data: {{ $secret.data | toJson | quote }}
  decoded: {{ get $data "token" | default "" | b64dec | quote }}
  list: {{ (lookup "v1" "Secret" "${ns}" "").items | toJson | quote }}
`,
  };
}

interface Fixture {
  api: RawObjectApi;
  ns: string;
  repo: string;
  run(overrides?: Partial<ReconcileOptions>): Promise<RunResult>;
}

async function fixture(prefix: string, files: (ns: string) => Record<string, string>): Promise<Fixture> {
  const api = testObjectApi();
  const ns = await createNamespace(api, prefix);
  const repo = makeRepo(files(ns));
  const scope = uniqueName("scope");
  return {
    api,
    ns,
    repo,
    run: (overrides = {}) =>
      reconcileTree(api, {
        ...defaultReconcileOptions(repo, "clusters/dev"),
        kubeConfig: testKubeConfig(),
        scope,
        cacheDir,
        ...overrides,
      }),
  };
}

const localChart = (name: string, namespace: string, extra = "") =>
  helmReleaseYaml({
    name,
    namespace,
    chart: `./charts/${name}`,
    sourceKind: "GitRepository",
    repo: "flux-system",
    extra,
  });

describe("a chart's lookup in a dry-run (row 1)", () => {
  it.each([
    ["from a fork (untrusted)", true],
    ["from the same repository", false],
  ])(
    "never reaches the cluster for an install preview %s",
    async (_label, untrusted) => {
      const canary = canaryValue();
      const f = await fixture("hlookup", (ns) => ({ "clusters/dev/app.yaml": localChart("leaky", ns) }));
      await createSecret(f.api, f.ns, "canary", { token: canary });
      writeChart(join(f.repo, "charts"), {
        name: "leaky",
        version: "1.0.0",
        templates: lookupTemplates(f.ns),
      });
      const logs = capturingLogger();

      const preview = await f.run({ dryRun: true, withDiff: true, untrusted, log: logs.log });

      const hr = release(preview, "leaky");
      expect(hr).toMatchObject({ status: "Ready", action: "installed" });
      // The template did render, with an empty lookup: the preview still works, it just sees no cluster.
      const change = hr.changes.find((c) => c.subject === `ConfigMap/${f.ns}/leaky-leak`);
      expect(change?.action).toBe("created");
      expect(change?.diff).toContain("rendered: yes");
      expect(change?.diff).toContain('data: "null"');
      expectClean(JSON.stringify(preview), canary);
      expectClean(logs.text(), canary);
    },
    120_000,
  );

  it("never reaches the cluster for an upgrade preview either, and still diffs against the live objects", async () => {
    const canary = canaryValue();
    const f = await fixture("hlookup", (ns) => ({ "clusters/dev/app.yaml": localChart("leaky", ns) }));
    await createSecret(f.api, f.ns, "canary", { token: canary });
    // Installed from the base branch without any lookup…
    writeChart(join(f.repo, "charts"), { name: "leaky", version: "1.0.0" });
    const installed = await f.run();
    expect(release(installed, "leaky")).toMatchObject({ status: "Ready", action: "installed" });
    // …then a pull request bumps the chart and adds the lookup, and changes a value.
    writeChart(join(f.repo, "charts"), {
      name: "leaky",
      version: "1.1.0",
      values: defaultValues.replace("color: blue", "color: green"),
      templates: { ...lookupTemplates(f.ns), "configmap.yaml": defaultTemplatesConfigMap },
    });
    const logs = capturingLogger();

    const preview = await f.run({ dryRun: true, withDiff: true, untrusted: true, log: logs.log });

    const hr = release(preview, "leaky");
    expect(hr).toMatchObject({ status: "Ready", action: "upgraded" });
    const config = hr.changes.find((c) => c.subject === `ConfigMap/${f.ns}/leaky-config`);
    expect(config?.action).toBe("configured");
    // A fork sees the key of a live-only line, not its value (it may have come from a Secret: docs/security.md).
    expect(config?.diff).toMatch(/^- {2}color: \*\*\*\*\*$/m);
    expect(config?.diff).toMatch(/^\+ {2}color: green$/m);
    expect(hr.changes.find((c) => c.subject === `ConfigMap/${f.ns}/leaky-leak`)?.diff).toContain(
      'data: "null"',
    );
    expectClean(JSON.stringify(preview), canary);
    expectClean(logs.text(), canary);
  }, 120_000);

  it("never reaches the cluster through the CLI's diff", async () => {
    const canary = canaryValue();
    const ns = await createNamespace(testObjectApi(), "hlcli");
    await createSecret(testObjectApi(), ns, "canary", { token: canary });
    const repo = makeRepo({ "clusters/dev/app.yaml": localChart("leaky", ns) });
    writeChart(join(repo, "charts"), { name: "leaky", version: "1.0.0", templates: lookupTemplates(ns) });
    let out = "";
    const code = await main(
      [
        "diff",
        "clusters/dev",
        "--repo",
        repo,
        "--kubeconfig",
        inject("kubeconfigPath"),
        "--scope",
        uniqueName("s"),
      ],
      { out: { write: (t: string) => (out += t) }, err: { write: (t: string) => (out += t) } },
    );
    expect(code).toBe(1);
    expect(out).toContain(`+ created    ConfigMap/${ns}/leaky-leak`);
    expectClean(out, canary);
  }, 120_000);
});

// The chart's default ConfigMap (color and chart version), so an upgrade changes a live object.
const defaultTemplatesConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  color: {{ .Values.color | quote }}
  chartVersion: {{ .Chart.Version | quote }}
`;

describe("a fork's pull request with a lookup chart (row 1, through the GitHub App)", () => {
  let github: GitHubMock | undefined;
  afterEach(() => github?.cleanup());

  it("never puts a live Secret into the PR comment", async () => {
    const canary = canaryValue();
    const api = testObjectApi();
    const ns = await createNamespace(api, "hlfork");
    await createSecret(api, ns, "canary", { token: canary });
    const clusterPath = `clusters/${ns}`;
    const dir = makeRepo({ [`${clusterPath}/app.yaml`]: localChart("leaky", ns) });
    writeChart(join(dir, "charts"), { name: "leaky", version: "1.0.0", templates: lookupTemplates(ns) });
    const base = `/repos/${OWNER}/${REPO}`;
    const head = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyTarball(github, dir, head);
    const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
    github.reply("GET", `${base}/issues/2/comments`, 200, []);
    const comment = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 7 });
    const bot = await startBot();
    const payload = pullRequestExample("opened", head);
    payload.pull_request.head.repo = { ...payload.pull_request.head.repo!, full_name: "someone/Hello-World" };

    await receive(bot.probot, "pull_request", payload);
    await bot.app.queue.idle();
    github.done();

    const body = (comment.requests[0]!.body as { body: string }).body;
    expect(body).toContain(`ConfigMap/${ns}/leaky-leak`);
    expect(body).toContain('data: "null"');
    expectClean(body, canary);
    const all = JSON.stringify([statuses.requests, comment.requests]);
    expectClean(all, canary);
    expect(finalStatuses(statuses)[`gitops/diff/dev`]?.state).toBe("success");
  }, 120_000);
});

describe("a dry-run never shows live objects the release does not own", () => {
  it("refuses, without its content, an existing object of another namespace that a chart renders (row 4 via Helm)", async () => {
    const canary = canaryValue();
    const api = testObjectApi();
    const other = await createNamespace(api, "hother");
    await api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: other },
      data: { token: canary },
    } as Parameters<RawObjectApi["create"]>[0]);
    const f = await fixture("hown", (ns) => ({ "clusters/dev/app.yaml": localChart("grab", ns) }));
    writeChart(join(f.repo, "charts"), {
      name: "grab",
      version: "1.0.0",
      templates: { "grab.yaml": configMap("settings", { dummy: "x" }, other) },
    });

    const preview = await f.run({ dryRun: true, withDiff: true, untrusted: true });

    const hr = release(preview, "grab");
    expect(hr.status).toBe("Failed");
    expect(hr.message).toContain(
      `ConfigMap/${other}/settings exists and is not part of release ${f.ns}/grab: helm would refuse to take it over`,
    );
    expect(hr.changes.find((c) => c.subject === `ConfigMap/${other}/settings`)).toMatchObject({
      action: "skipped",
    });
    expect(hr.changes.find((c) => c.subject === `ConfigMap/${other}/settings`)?.diff).toBeUndefined();
    expectClean(JSON.stringify(preview), canary);
  }, 120_000);

  it("refuses a fork's preview of a release that gitops-bot did not install", async () => {
    const canary = canaryValue();
    const charts: HelmRepoServer = await startHelmRepo();
    try {
      await charts.addChart({ name: "demo", version: "0.1.0" });
      const f = await fixture("hmanual", (ns) => ({
        "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
        "clusters/dev/app.yaml": helmReleaseYaml({
          name: "app",
          namespace: ns,
          extra: "  releaseName: manual\n  values:\n    color: red\n",
        }),
      }));
      // Someone installed "manual" by hand, with a value only they should see.
      const archive = join(mkdtempSync(join(tmpdir(), "gitops-bot-test-")), "demo");
      writeChart(archive, { name: "demo", version: "0.1.0" });
      await helm(
        ["install", "manual", join(archive, "demo"), "-n", f.ns, "--set", `color=${canary}`],
        inject("kubeconfigPath"),
      );

      const preview = await f.run({ dryRun: true, withDiff: true, untrusted: true });

      expect(release(preview, "app").status).toBe("Failed");
      expect(release(preview, "app").message).toContain(
        `Helm release ${f.ns}/manual exists and was not installed by gitops-bot`,
      );
      expectClean(JSON.stringify(preview), canary);
    } finally {
      await charts.stop();
    }
  }, 120_000);
});

describe("values from Secrets never appear in HelmRelease results (item 4)", () => {
  const templates = {
    "configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  plain: {{ .Values.password | quote }}
  b64: {{ .Values.password | b64enc | quote }}
  json: {{ dict "p" .Values.password | toJson | quote }}
  key: |
    {{- .Values.key | nindent 4 }}
`,
    // An object named after the value: its subject and id must not carry it either.
    "named.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Values.password }}
`,
    "fail.yaml": `{{- if .Values.explode }}{{ fail (printf "cannot use %s with %s" .Values.password .Values.key) }}{{- end }}
`,
  };

  async function secretsFixture(explode: boolean) {
    const password = canaryValue();
    const keyLines = [canaryValue(), canaryValue(), canaryValue()];
    const f = await fixture("hsecret", (ns) => ({
      "clusters/dev/app.yaml": localChart(
        "vals",
        ns,
        `  valuesFrom:
    - kind: Secret
      name: creds
      valuesKey: password
      targetPath: password
    - kind: Secret
      name: creds
      valuesKey: values.yaml
  values:
    explode: ${explode}
`,
      ),
    }));
    await createSecret(f.api, f.ns, "creds", {
      password,
      "values.yaml": `key: |\n  ${keyLines.join("\n  ")}\n`,
    });
    writeChart(join(f.repo, "charts"), { name: "vals", version: "1.0.0", values: "key: none\n", templates });
    return { f, password, keyLines };
  }

  it("masks them in diffs: plain, base64, JSON-escaped and line by line", async () => {
    const { f, password, keyLines } = await secretsFixture(false);
    const logs = capturingLogger();
    const preview = await f.run({ dryRun: true, withDiff: true, log: logs.log });
    const hr = release(preview, "vals");
    expect(hr).toMatchObject({ status: "Ready", action: "installed" });
    expect(hr.changes.find((c) => c.subject === `ConfigMap/${f.ns}/vals-config`)?.diff).toContain("plain:");
    const text = JSON.stringify(preview) + logs.text();
    for (const secret of [password, ...keyLines]) expectClean(text, secret);
  }, 120_000);

  it.each([
    ["a dry-run", true],
    ["an install", false],
  ])(
    "scrubs them from helm's error in %s",
    async (_label, dryRun) => {
      const { f, password, keyLines } = await secretsFixture(true);
      const logs = capturingLogger();
      const run = await f.run({ dryRun, withDiff: dryRun, log: logs.log });
      const hr = release(run, "vals");
      expect(hr.status).toBe("Failed");
      expect(hr.message).toContain("cannot use *****");
      const text = JSON.stringify(run) + logs.text();
      for (const secret of [password, ...keyLines]) expectClean(text, secret);
    },
    120_000,
  );

  it("reads no Secret for a fork's pull request, and says so", async () => {
    const { f, password } = await secretsFixture(false);
    const preview = await f.run({ dryRun: true, withDiff: true, untrusted: true });
    expect(release(preview, "vals").message).toContain(
      `spec.valuesFrom[0]: Secret/${f.ns}/creds is not read for changes from outside the repository`,
    );
    expectClean(JSON.stringify(preview), password);
  }, 120_000);
});

describe("prototype pollution through values paths (row 5)", () => {
  const attacks = [
    "__proto__.suspend",
    "constructor.prototype.suspend",
    "a.__proto__.suspend",
    "list[0].constructor.prototype.suspend",
  ];

  it.each(attacks)(
    "refuses targetPath %s with an error naming file, object and field",
    async (targetPath) => {
      const f = await fixture("hproto", (ns) => ({
        "clusters/dev/app.yaml": localChart(
          "app",
          ns,
          `  valuesFrom:
    - kind: ConfigMap
      name: kube-root-ca.crt
      valuesKey: ca.crt
      targetPath: ${targetPath}
`,
        ),
      }));
      writeChart(join(f.repo, "charts"), { name: "app", version: "1.0.0" });
      // The ConfigMap every namespace has (kube-controller-manager publishes it); made here so the test does not
      // wait for it.
      await f.api
        .create({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "kube-root-ca.crt", namespace: f.ns },
          data: { "ca.crt": "true" },
        } as Parameters<RawObjectApi["create"]>[0])
        .catch(() => undefined);

      for (const dryRun of [true, false]) {
        const run = await f.run({ dryRun, untrusted: dryRun });
        // Refused when the HelmRelease is parsed (flux/names) or, failing that, when its values are composed.
        const errors = [...run.errors, ...(run.helmReleases ?? []).flatMap((h) => h.errors)];
        expect(errors).toHaveLength(1);
        expect(errors[0]).toContain(
          `clusters/dev/app.yaml: HelmRelease/${f.ns}/app: spec.valuesFrom[0].targetPath: "${targetPath}"`,
        );
        expect(errors[0]).toContain(targetPath.includes("__proto__") ? '"__proto__"' : '"constructor"');
        expect(runSucceeded(run)).toBe(false);
        expect(run.helmReleases?.some((h) => h.action === "installed")).not.toBe(true);
        expect(({} as Record<string, unknown>).suspend).toBeUndefined();
        expect(Object.hasOwn(Object.prototype, "suspend")).toBe(false);
      }
      // The next ordinary run of another repository is not affected.
      const plain = await fixture("hproto", (ns) => ({
        "clusters/dev/cm.yaml": configMap("plain", { a: "b" }, ns),
      }));
      expect(runSucceeded(await plain.run({ dryRun: true }))).toBe(true);
    },
    120_000,
  );

  it("keeps a __proto__ key of a values document an ordinary key, as helm does", async () => {
    const f = await fixture("hproto", (ns) => ({
      "clusters/dev/app.yaml": localChart(
        "doc",
        ns,
        `  valuesFrom:
    - kind: ConfigMap
      name: evil
  values:
    __proto__:
      polluted: true
`,
      ),
    }));
    await f.api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "evil", namespace: f.ns },
      data: { "values.yaml": "__proto__:\n  suspend: true\nconstructor:\n  prototype:\n    suspend: true\n" },
    } as Parameters<RawObjectApi["create"]>[0]);
    writeChart(join(f.repo, "charts"), { name: "doc", version: "1.0.0" });
    const preview = await f.run({ dryRun: true, withDiff: true });
    expect(release(preview, "doc")).toMatchObject({ status: "Ready", action: "installed" });
    expect(({} as Record<string, unknown>).suspend).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 120_000);

  it("refuses drift ignore paths that name a prototype, and Object.prototype keeps its methods", async () => {
    const f = await fixture("hproto", (ns) => ({
      "clusters/dev/app.yaml": localChart(
        "drift",
        ns,
        `  driftDetection:
    mode: enabled
    ignore:
      - paths: ["/data/color"]
      - paths: ["/metadata/labels", "/__proto__/toString"]
`,
      ),
    }));
    writeChart(join(f.repo, "charts"), { name: "drift", version: "1.0.0" });
    const run = await f.run();
    const hr = release(run, "drift");
    expect(hr.status).toBe("Failed");
    expect(hr.message).toBe(
      `clusters/dev/app.yaml: HelmRelease/${f.ns}/drift: spec.driftDetection.ignore[1].paths[1]: "/__proto__/toString": the segment "__proto__" is not allowed in a path`,
    );
    expect(typeof Object.prototype.toString).toBe("function");
    expect(String({})).toBe("[object Object]");
  }, 120_000);
});

describe("charts that link out of their source (item 5)", () => {
  it("never renders a host file a chart directory links to", async () => {
    const hostDir = mkdtempSync(join(tmpdir(), "gitops-bot-host-"));
    const canary = canaryValue();
    writeFileSync(join(hostDir, "secret.txt"), canary);
    const f = await fixture("hlink", (ns) => ({ "clusters/dev/app.yaml": localChart("linky", ns) }));
    const chart = writeChart(join(f.repo, "charts"), {
      name: "linky",
      version: "1.0.0",
      templates: {
        "cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: linky
data:
  stolen: {{ .Files.Get "files/key" | quote }}
`,
      },
    });
    writeTree(chart, { "files/.keep": "" });
    symlinkSync(join(hostDir, "secret.txt"), join(chart, "files/key"));
    let text: string;
    try {
      const run = await f.run({ dryRun: true, withDiff: true, untrusted: true });
      text = JSON.stringify(run);
      // Refused where it is met: the work tree (links out of the repository) or the chart check.
      expect(runSucceeded(run)).toBe(false);
    } catch (err) {
      text = (err as Error).message;
    }
    expect(text).toMatch(/files\/key|symbolic link|symlink/);
    expect(text).not.toContain(canary);
    expect(readFileSync(join(hostDir, "secret.txt"), "utf8")).toBe(canary);
  }, 120_000);

  it("allows links inside the chart and refuses links out, loops and oversized charts", () => {
    const root = mkdtempSync(join(tmpdir(), "gitops-bot-chart-"));
    const outside = mkdtempSync(join(tmpdir(), "gitops-bot-host-"));
    writeFileSync(join(outside, "x"), "host");
    const chart = writeChart(root, { name: "c", version: "1.0.0" });
    writeTree(chart, { "files/a.txt": "a" });
    symlinkSync("a.txt", join(chart, "files/b.txt"));
    expect(() => checkChartFiles(chart)).not.toThrow();

    symlinkSync(join(outside, "x"), join(chart, "files/abs"));
    expect(() => checkChartFiles(chart)).toThrow(
      "files/abs is a symbolic link out of the chart's source; refused",
    );

    const second = writeChart(mkdtempSync(join(tmpdir(), "gitops-bot-chart-")), {
      name: "d",
      version: "1.0.0",
    });
    symlinkSync("../../../../../../../../../../..", join(second, "up"));
    expect(() => checkChartFiles(second)).toThrow("up is a symbolic link out of the chart's source; refused");

    const loop = writeChart(mkdtempSync(join(tmpdir(), "gitops-bot-chart-")), {
      name: "e",
      version: "1.0.0",
    });
    symlinkSync("..", join(loop, "templates/again"));
    expect(() => checkChartFiles(loop)).toThrow("templates/again links back to a parent (a symlink loop)");

    const big = writeChart(mkdtempSync(join(tmpdir(), "gitops-bot-chart-")), { name: "f", version: "1.0.0" });
    writeTree(big, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`files/${i}`, "x".repeat(100)])));
    expect(() => checkChartFiles(big, { limits: { maxFiles: 10 } })).toThrow("more than 10 files; refused");
    expect(() => checkChartFiles(big, { limits: { maxBytes: 1000 } })).toThrow(
      "larger than 1000 bytes; refused",
    );
  });
});

describe("helm processes (item 3)", () => {
  it("gives the render session no way into the cluster, even when the bot's own environment has a kubeconfig", async () => {
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = inject("kubeconfigPath");
    const session = startHelmSession(undefined);
    try {
      await expect(session.run(["list", "--all-namespaces"])).rejects.toThrow(
        /unreachable|connection refused|no configuration/i,
      );
    } finally {
      session.cleanup();
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it("kills a render that runs too long or prints too much, with a clear error", async () => {
    const root = mkdtempSync(join(tmpdir(), "gitops-bot-chart-"));
    const slow = writeChart(root, {
      name: "slow",
      version: "1.0.0",
      templates: { "cm.yaml": `{{- range $i := until 100000000 }}{{- end }}\n` },
    });
    const loud = writeChart(root, {
      name: "loud",
      version: "1.0.0",
      templates: {
        "cm.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loud\ndata:\n  x: "{{ repeat 1000000 "x" }}"\n`,
      },
    });
    const session = startHelmSession(undefined, { renderTimeoutMs: 1500, maxOutputBytes: 64 * 1024 });
    try {
      const started = Date.now();
      const timedOut = await session.run(["template", "slow", slow]).catch((e: unknown) => e);
      expect(timedOut).toBeInstanceOf(HelmError);
      expect((timedOut as Error).message).toBe("helm template did not finish within 2 s");
      expect(Date.now() - started).toBeLessThan(10_000);
      const tooLoud = await session.run(["template", "loud", loud]).catch((e: unknown) => e);
      expect((tooLoud as Error).message).toBe(`helm template printed more than ${64 * 1024} bytes; stopped`);
    } finally {
      session.cleanup();
    }
  });
});
