// Issue 15's table, one row each: what a Flux user tried, what the CLI said before, and the exact message (and
// exit status) it gives now. Real kustomize, the real API server, kubeconfig files like a user's.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, test, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

interface Outcome {
  code: number;
  out: string;
  err: string;
}

async function cli(
  args: string[],
  tty: { out?: boolean; err?: boolean } = {},
  env: Record<string, string | undefined> = {},
): Promise<Outcome> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: { write: (s: string) => (out += s), isTTY: tty.out ?? false },
    err: { write: (s: string) => (err += s), isTTY: tty.err ?? false },
    env,
    progressIntervalMs: 400,
  });
  return { code, out, err };
}

const kubeconfig = () => inject("kubeconfigPath");

/** A one-Kustomization repository in namespace `ns` whose apps/ holds `files`. */
function appsRepo(ns: string, files: Record<string, string>, extra = `  targetNamespace: ${ns}\n`): string {
  return makeRepo({
    "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: ns, path: "./apps", extra }),
    ...Object.fromEntries(Object.entries(files).map(([f, c]) => [`apps/${f}`, c])),
  });
}

const KUSTOMIZATION_PREFIX = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n";

interface Row {
  tried: string;
  before: string;
  /** Runs the row and returns what the CLI did and what it must have done. */
  check: () => Promise<{ got: Partial<Outcome>; want: Partial<Outcome> }>;
}

const pick = (o: Outcome, keys: (keyof Outcome)[]): Partial<Outcome> =>
  Object.fromEntries(keys.map((k) => [k, o[k]]));

const rows: Row[] = [
  {
    tried: "no kubeconfig at all",
    before: "HTTP protocol is not allowed when skipTLSVerify is not set or false",
    async check() {
      const home = mkdtempSync(join(tmpdir(), "gitops-bot-home-"));
      vi.stubEnv("KUBECONFIG", "");
      vi.stubEnv("HOME", home);
      try {
        const repo = appsRepo("flux-system", { "cm.yaml": configMap("settings", { a: "b" }) });
        const got = await cli(["diff", "clusters/dev", "--repo", repo]);
        return {
          got: pick(got, ["code", "err"]),
          want: {
            code: 2,
            err: `gitops-bot diff: no kubeconfig found: KUBECONFIG is not set and ${home}/.kube/config does not exist; pass --kubeconfig <file>, set KUBECONFIG, or run inside a cluster\n`,
          },
        };
      } finally {
        vi.unstubAllEnvs();
      }
    },
  },
  {
    tried: "a kubeconfig path that does not exist",
    before: "ENOENT: no such file or directory, open …",
    async check() {
      const missing = join(mkdtempSync(join(tmpdir(), "gitops-bot-kc-")), "nope.yaml");
      const repo = appsRepo("flux-system", { "cm.yaml": configMap("settings", { a: "b" }) });
      const got = await cli(["reconcile", "clusters/dev", "--repo", repo, "--kubeconfig", missing]);
      return {
        got: pick(got, ["code", "err"]),
        want: {
          code: 2,
          err: `gitops-bot reconcile: the kubeconfig ${missing} (--kubeconfig) does not exist: give the path of an existing kubeconfig file\n`,
        },
      };
    },
  },
  {
    tried: "an API server that does not answer (nothing listens on the kubeconfig's server)",
    before:
      "per Kustomization: Failed to fetch resource metadata for v1/ConfigMap: request to https://127.0.0.1:1/api/v1 failed, reason: connect ECONNREFUSED 127.0.0.1:1",
    async check() {
      const file = join(mkdtempSync(join(tmpdir(), "gitops-bot-kc-")), "config");
      writeFileSync(
        file,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: dev\n  context: {cluster: c, user: u}\ncurrent-context: dev\n",
      );
      const repo = appsRepo("flux-system", { "cm.yaml": configMap("settings", { a: "b" }) });
      const got = await cli(["diff", "clusters/dev", "--repo", repo, "--kubeconfig", file]);
      return {
        got: pick(got, ["code", "out", "err"]),
        want: {
          code: 2,
          out: "",
          err: "gitops-bot diff: cannot reach the API server https://127.0.0.1:1 (context dev): connection refused. Check that the cluster is running and that --kubeconfig and --context point at it\n",
        },
      };
    },
  },
  {
    tried: "a kustomization referencing a file outside its directory (inside the repository)",
    before: "kustomize's raw error with /tmp/gitops-bot-build-XXXX paths",
    async check() {
      const repo = makeRepo({
        "clusters/dev/apps.yaml": fluxKustomization({
          name: "apps",
          namespace: "flux-system",
          path: "./apps",
        }),
        "apps/kustomization.yaml": `${KUSTOMIZATION_PREFIX}resources:\n- ../shared/cm.yaml\n`,
        "shared/cm.yaml": configMap("shared", { a: "b" }),
      });
      const got = await cli(["build", "clusters/dev", "--repo", repo]);
      // As in Flux (kustomize without its load restrictor, inside the source root): the file loads.
      return {
        got: { code: got.code, err: got.err, loaded: got.out.includes("name: shared") },
        want: { code: 0, err: "", loaded: true },
      };
    },
  },
  {
    tried: "a kustomization referencing a file outside the repository",
    before: "kustomize's raw error with /tmp/gitops-bot-build-XXXX paths",
    async check() {
      const repo = makeRepo({
        "clusters/dev/apps.yaml": fluxKustomization({
          name: "apps",
          namespace: "flux-system",
          path: "./apps",
        }),
        "apps/kustomization.yaml": `${KUSTOMIZATION_PREFIX}resources:\n- ../../outside/cm.yaml\n`,
      });
      const got = await cli(["build", "clusters/dev", "--repo", repo]);
      return {
        got: pick(got, ["code", "err"]),
        want: {
          code: 2,
          err:
            `gitops-bot build: clusters/dev/apps.yaml: Kustomization/flux-system/apps: ` +
            `apps/kustomization.yaml: resources[0]: "../../outside/cm.yaml" leads outside the tree\n`,
        },
      };
    },
  },
  {
    tried: "a kustomization listing a file that does not exist",
    before: "kustomize's raw error with /tmp/gitops-bot-build-XXXX paths",
    async check() {
      const repo = makeRepo({
        "clusters/dev/apps.yaml": fluxKustomization({
          name: "apps",
          namespace: "flux-system",
          path: "./apps",
        }),
        "apps/kustomization.yaml": `${KUSTOMIZATION_PREFIX}resources:\n- missing.yaml\n`,
      });
      const got = await cli(["build", "clusters/dev", "--repo", repo]);
      return {
        got: pick(got, ["code", "err"]),
        want: {
          code: 2,
          err:
            `gitops-bot build: clusters/dev/apps.yaml: Kustomization/flux-system/apps: kustomize build ./apps failed: ` +
            `the kustomization in apps lists "missing.yaml", but apps/missing.yaml does not exist: fix the name in ` +
            `resources or add the file\n`,
        },
      };
    },
  },
  {
    tried: "create kustomization … --prune=true (as Flux's docs write it)",
    before: "Option '--prune' does not take an argument, plus the whole help",
    async check() {
      const got = await cli([
        "create",
        "kustomization",
        "apps",
        "--path",
        "./apps",
        "--prune=true",
        "--wait=false",
      ]);
      return {
        got: pick(got, ["code", "out", "err"]),
        want: {
          code: 0,
          err: "",
          out: `---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`,
        },
      };
    },
  },
  {
    tried: "--source GitRepository/app.other-ns (Flux's name.namespace) and --health-check",
    before: "written as name: app.other-ns",
    async check() {
      const got = await cli([
        "create",
        "kustomization",
        "apps",
        "--path",
        "./apps",
        "--source",
        "GitRepository/app.other-ns",
        "--health-check",
        "Deployment/web.apps,HelmRelease/db",
      ]);
      return {
        got: pick(got, ["code", "out"]),
        want: {
          code: 0,
          out: `---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  healthChecks:
    - apiVersion: apps/v1
      kind: Deployment
      name: web
      namespace: apps
    - apiVersion: helm.toolkit.fluxcd.io/v2
      kind: HelmRelease
      name: db
      namespace: flux-system
  interval: 10m0s
  path: ./apps
  prune: false
  sourceRef:
    kind: GitRepository
    name: app
    namespace: other-ns
`,
        },
      };
    },
  },
  {
    tried: "a boolean flag given a word that is not true or false",
    before: "Option '--prune' does not take an argument, plus the whole help",
    async check() {
      const got = await cli(["create", "kustomization", "apps", "--path", "./apps", "--prune=yes"]);
      return {
        got: pick(got, ["code", "out", "err"]),
        want: {
          code: 2,
          out: "",
          err: `gitops-bot create: --prune is true or false, not "yes" (as in --prune=false)\nSee 'gitops-bot create --help'.\n`,
        },
      };
    },
  },
  {
    tried: "a misspelt flag",
    before:
      "Unknown option '--kubeconfg'. To specify a positional argument starting with a '-', … plus the whole help",
    async check() {
      const got = await cli(["diff", "clusters/dev", "--kubeconfg", "x"]);
      return {
        got: pick(got, ["code", "err"]),
        want: {
          code: 2,
          err: "gitops-bot diff: unknown flag --kubeconfg (did you mean --kubeconfig?)\nSee 'gitops-bot diff --help'.\n",
        },
      };
    },
  },
  {
    tried: "images update <path> where no field is marked",
    before: "no changes: every marked field is up to date",
    async check() {
      const repo = makeRepo({
        "clusters/dev/app.yaml":
          "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:1.0.0\n",
      });
      const got = await cli(["images", "update", "clusters/dev", "--repo", repo]);
      return {
        got: pick(got, ["code", "out", "err"]),
        want: {
          code: 0,
          err: "",
          out:
            "no ImageRepository or ImagePolicy found\n\n" +
            'no changes: no field under clusters/dev is marked for image updates. Mark one with a comment naming its ImagePolicy, e.g.  image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "flux-system:app"}  (or :tag / :name for a tag or name field; see docs/image-automation.md)\n',
        },
      };
    },
  },
  {
    tried: "ownership refused (already managed from …)",
    before: "no hint how to proceed (--scope)",
    async check() {
      const api = testObjectApi();
      const ns = await createNamespace(api, "own");
      const repo = appsRepo(ns, { "cm.yaml": configMap("settings", { a: "b" }) });
      const first = uniqueName("first");
      const second = uniqueName("second");
      const common = ["clusters/dev", "--repo", repo, "--kubeconfig", kubeconfig(), "-q"];
      const applied = await cli(["reconcile", ...common, "--scope", first]);
      expect(applied.code).toBe(0);
      const got = await cli(["diff", ...common, "--scope", second]);
      return {
        got: pick(got, ["code", "out"]),
        want: {
          code: 2,
          out:
            `► Kustomization ${ns}/apps (./apps): Failed — Kustomization/${ns}/apps is already managed from ${first}; refusing to take it over from ${second}\n` +
            `  ✗ Kustomization/${ns}/apps is already managed from ${first}; refusing to take it over from ${second}\n` +
            `  not applied: ConfigMap/${ns}/settings\n` +
            `  hint: the cluster's copy was applied from ${first}, this run is ${second}. If this checkout is that repository and cluster path, pass --scope ${first}; otherwise rename the Kustomization, or remove it from ${first} first\n`,
        },
      };
    },
  },
  {
    tried: "a health wait (here a Deployment that never appears, 3 s timeout)",
    before: "nothing printed until timeout after …",
    async check() {
      const api = testObjectApi();
      const ns = await createNamespace(api, "wait");
      const repo = appsRepo(
        ns,
        { "cm.yaml": configMap("settings", { a: "b" }) },
        `  targetNamespace: ${ns}\n  timeout: 3s\n  healthChecks:\n    - apiVersion: apps/v1\n      kind: Deployment\n      name: web\n      namespace: ${ns}\n`,
      );
      const got = await cli(["reconcile", "clusters/dev", "--repo", repo, "--kubeconfig", kubeconfig()]);
      // A status line every 400 ms (this test's interval; 15 s in CI logs, redrawn each second on a terminal).
      const waiting = got.err.split("\n").filter((l) => l.startsWith("waiting "));
      return {
        got: {
          code: got.code,
          // After the first poll the line names what is waited for; before it, only the Kustomization.
          err: [...new Set(waiting.map((l) => l.replace(/^waiting \d+s/, "waiting Ns")))]
            .filter((l) => l.includes("/3s: "))
            .join("\n"),
          out: waiting.length >= 4 ? "a line every 400 ms" : `${waiting.length} lines`,
        },
        want: {
          code: 2,
          err: `waiting Ns/3s: Deployment/${ns}/web object not found`,
          out: "a line every 400 ms",
        },
      };
    },
  },
  {
    tried: "--output json",
    before: "no schema, no version field; build and diff use different shapes",
    async check() {
      const api = testObjectApi();
      const ns = await createNamespace(api, "json");
      const repo = appsRepo(ns, { "cm.yaml": configMap("settings", { a: "b" }) });
      const common = ["clusters/dev", "--repo", repo, "-o", "json"];
      const built = JSON.parse((await cli(["build", ...common])).out) as Record<string, unknown>;
      const diffed = JSON.parse(
        (await cli(["diff", ...common, "--kubeconfig", kubeconfig(), "--scope", uniqueName("s")])).out,
      ) as Record<string, unknown>;
      const head = (o: Record<string, unknown>) =>
        [o.schemaVersion, o.command, Object.keys(o).join(",")].join(" ");
      const keys =
        "schemaVersion,command,clusterPath,dryRun,succeeded,changed,errors,notes,kustomizations,helmReleases,sources,durationMs";
      return {
        got: { out: `${head(built)}\n${head(diffed)}` },
        want: { out: `1 build ${keys}\n1 diff ${keys}` },
      };
    },
  },
  {
    tried: "a terminal: colour on a TTY, none when piped or with NO_COLOR",
    before: "no colour on a TTY",
    async check() {
      const api = testObjectApi();
      const ns = await createNamespace(api, "colour");
      const repo = appsRepo(ns, { "cm.yaml": configMap("settings", { a: "b" }) });
      const common = ["diff", "clusters/dev", "--repo", repo, "--kubeconfig", kubeconfig(), "-q"];
      const line = (o: Outcome) => o.out.split("\n").find((l) => l.includes(`ConfigMap/${ns}/settings`));
      const tty = line(await cli(common, { out: true }));
      const piped = line(await cli(common));
      const noColor = line(await cli(common, { out: true }, { NO_COLOR: "1" }));
      return {
        got: { out: [tty, piped, noColor].join("\n") },
        want: {
          out: [
            `  \u001b[32m+ created   \u001b[39m ConfigMap/${ns}/settings`,
            `  + created    ConfigMap/${ns}/settings`,
            `  + created    ConfigMap/${ns}/settings`,
          ].join("\n"),
        },
      };
    },
  },
  {
    tried: "--version",
    before: 'gitops-bot: unknown command "--version" and the whole help',
    async check() {
      const got = await cli(["--version"]);
      return { got: pick(got, ["code", "out"]), want: { code: 0, out: "gitops-bot 0.1.0\n" } };
    },
  },
];

describe("issue 15: each row's message", () => {
  test.each(rows)("$tried (before: $before)", async (row) => {
    const { got, want } = await row.check();
    expect(got).toEqual(want);
  });
});
