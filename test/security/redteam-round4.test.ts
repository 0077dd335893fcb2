// Red team, round 4: three changes to the build boundary made the same day. (1) A YAML text with at most 6 `*`
// is no longer alias-checked before kustomize runs (kustomize-references.ts boundedAliasTokens); (2) the
// kustomize runs of one work tree share a private HOME and reuse overlay directories from a scratch pool beside
// the tree (build-scratch.ts); (3) the live hash leaves out the deployment controller's revision annotation
// (ssa/fingerprint.ts). Each attack goes through the real entry point (the CLI's `build`, buildTree, or
// applyAllStaged on the real API server) and asserts a refusal naming file and field, a bound, or drift found.
// Attacks that got through are not here (a failing test would break the tree): they are in the round's report.
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { prepareWorkTree } from "../../src/build/kustomize.js";
import { boundedAliasTokens, maxYamlAliasCount } from "../../src/build/kustomize-references.js";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { type ApplyResult, applyAllStaged } from "../../src/cluster/ssa/apply.js";
import { defaultManifestLimits } from "../../src/flux/manifests.js";
import { planTree } from "../../src/reconcile/plan.js";
import { buildTree } from "../../src/reconcile/run.js";
import { cli } from "../support/cli.js";
import { createNamespace, PatchStrategy, testObjectApi } from "../support/kube.js";
import { fluxKustomization, writeTree } from "../support/repo-tree.js";

// Every build of this file runs with a private TMPDIR, so that what the builds leave behind is theirs alone.
const ownTmp = mkdtempSync(join(tmpdir(), "rt4-tmp-"));
let savedTmp: string | undefined;
beforeAll(() => {
  savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = ownTmp;
});
afterAll(() => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  rmSync(ownTmp, { recursive: true, force: true });
});

/** What the engine leaves in TMPDIR: work trees, scratch spaces, overlays. */
function engineLeftovers(): string[] {
  return readdirSync(ownTmp).filter((n) => /^gitops-bot-(build|scratch|overlay|home)-/.test(n));
}

function repoWith(files: Record<string, string>, extra = ""): string {
  const repo = mkdtempSync(join(ownTmp, "repo-"));
  writeTree(repo, {
    "clusters/dev/apps.yaml": fluxKustomization({
      name: "apps",
      namespace: "flux-system",
      path: "./apps",
      extra,
    }),
    ...files,
  });
  return repo;
}

async function build(repo: string) {
  return cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
}

/** The smallest maxAliasCount the yaml library accepts the text with (the old check refused it above 100). */
function yamlMeasure(text: string): number {
  const docs = parseAllDocuments(text);
  const ok = (m: number) => {
    for (const d of Array.isArray(docs) ? docs : [docs]) {
      if (d.errors.length) throw new Error(d.errors[0]?.message);
      try {
        d.toJS({ maxAliasCount: m });
      } catch {
        return false;
      }
    }
    return true;
  };
  let lo = 0;
  let hi = 1 << 16;
  if (!ok(hi)) return Number.POSITIVE_INFINITY;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ok(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A chain of `n` nested anchors each referenced once: the worst the yaml library counts for n aliases (2^n). */
function aliasChain(n: number, merge: boolean): string {
  const lines = ["    a0: &a0 {k: x}"];
  for (let i = 1; i <= n; i++)
    lines.push(merge ? `    a${i}: &a${i} {<<: *a${i - 1}, z${i}: x}` : `    a${i}: &a${i} [*a${i - 1}]`);
  return `${merge ? "%YAML 1.1\n---\n" : ""}apiVersion: example.com/v1\nkind: Blob\nmetadata:\n  name: chain\nspec:\n  tree:\n${lines.join("\n")}\n`;
}

// The worst 6-star texts an exhaustive search found (anchors holding up to 6 references, merge or plain, as
// sequence or mapping values; with and without %YAML 1.1, where the yaml library applies merge keys): both
// measure exactly 64.
const worstSixStar = [aliasChain(6, false), aliasChain(6, true)];

describe("(1) at most 6 `*`: no alias expansion the old check would have refused", () => {
  it("the bound is 6 for 100, and the worst 6-star texts measure 64 ≤ 100 by the library's own count", () => {
    expect(boundedAliasTokens).toBe(6);
    expect(maxYamlAliasCount).toBe(100);
    for (const text of worstSixStar) {
      expect(text.split("*").length - 1).toBe(6);
      expect(yamlMeasure(text)).toBe(64);
    }
    // One more link is past the bound: these the check still parses and refuses.
    expect(yamlMeasure(aliasChain(7, false))).toBe(128);
    expect(yamlMeasure(aliasChain(7, true))).toBe(128);
  });

  it("a merge-key fan-out (re-evaluated merge sources) with 6 `*` stays under 100 too", () => {
    // merge sources are converted again at each merge, so their own aliases are counted again
    const text = `%YAML 1.1
---
a0: &a0 {k: x}
m1: &m1 {<<: *a0}
m2: &m2 {<<: [*m1, *m1]}
m3: &m3 {<<: [*m2, *m2]}
t: *m3
`;
    expect(text.split("*").length - 1).toBe(6);
    expect(yamlMeasure(text)).toBeLessThanOrEqual(maxYamlAliasCount);
  });

  it("the 6-star chains build (kustomize expands them to nothing much); 7 are refused by file name", async () => {
    const plain = await build(repoWith({ "apps/chain.yaml": aliasChain(6, false) }));
    expect(plain.err).toBe("");
    expect(plain.code).toBe(0);
    expect(plain.out).toContain("Blob");
    expect(plain.out.length).toBeLessThan(20_000);
    // kustomize splits documents itself: a `%YAML 1.1` directive is a document of its own to it, and an error,
    // so the library's YAML 1.1 merge keys (the merge chain) never reach a build.
    const merged = await build(repoWith({ "apps/chain.yaml": aliasChain(6, true) }));
    expect(merged.code).not.toBe(0);
    expect(merged.out + merged.err).toMatch(/chain\.yaml.*did not find expected <document start>/s);
    for (const merge of [false, true]) {
      const repo = repoWith({ "apps/chain.yaml": aliasChain(7, merge) });
      const res = await build(repo);
      expect(res.code).not.toBe(0);
      expect(res.out + res.err).toMatch(/apps\/chain\.yaml.*aliases expand too far/s);
    }
    expect(engineLeftovers()).toEqual([]);
  });

  it("the largest real expansion 6 `*` allow (three doublings of a file-sized anchor) is bounded by 15×", async () => {
    // go-yaml (kustomize) copies what an alias names: a1 = 2·a0, a2 = 4·a0, a3 = 8·a0.
    const items = Array.from({ length: 4000 }, (_, i) => `v${i}`).join(", ");
    const text = `apiVersion: example.com/v1
kind: Blob
metadata:
  name: wide
spec:
  a0: &a0 [${items}]
  a1: &a1 [*a0, *a0]
  a2: &a2 [*a1, *a1]
  a3: [*a2, *a2]
`;
    const repo = repoWith({ "apps/wide.yaml": text });
    const started = Date.now();
    const res = await build(repo);
    expect(res.code).toBe(0);
    const copies = res.out.split("v3999").length - 1;
    expect(copies).toBe(15);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it("7 `*` behind a BOM, CRLF or a first document still count (refused by file name)", async () => {
    // seven links: 128 by the library's count
    const laughs = (eol: string) => aliasChain(7, false).split("\n").join(eol);
    const listed = (file: string) => ({ "apps/kustomization.yaml": `resources: [${file.slice(5)}]\n` });
    const variants: Record<string, string> = {
      "apps/bom.yaml": `\uFEFF${laughs("\n")}`,
      "apps/crlf.yaml": laughs("\r\n"),
      "apps/second.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\n${laughs("\n")}`,
    };
    for (const [file, text] of Object.entries(variants)) {
      const repo = repoWith({ ...listed(file), [file]: text });
      const res = await build(repo);
      expect(res.code, file).not.toBe(0);
      expect(res.out + res.err).toContain(file);
      expect(res.out + res.err).toMatch(/aliases expand too far|invalid YAML/);
    }
    expect(engineLeftovers()).toEqual([]);
  });

  it("an inline patch (spec.patches[].patch) with 7 `*` is refused naming the field; 6 are let through", async () => {
    const patch = (stars: number) => {
      const refs = Array.from({ length: stars }, () => "*a").join(", ");
      return `    - patch: |\n        apiVersion: v1\n        kind: ConfigMap\n        metadata:\n          name: a\n          annotations:\n            x: &a v\n        data:\n          list: [${refs}]\n`;
    };
    const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
    const refused = await build(repoWith({ "apps/cm.yaml": cm }, `  patches:\n${patch(7)}`));
    // 7 plain references measure 8, under the bound: parsed and let through as well
    expect(refused.err).toBe("");
    const laughs = [
      "    - patch: |",
      "        apiVersion: v1",
      "        kind: ConfigMap",
      "        metadata: {name: a}",
      "        x:",
      "          a: &a [x, x, x, x, x, x, x, x, x, x]",
      "          b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "          c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "",
    ].join("\n");
    const bomb = await build(repoWith({ "apps/cm.yaml": cm }, `  patches:\n${laughs}`));
    expect(bomb.code).not.toBe(0);
    expect(bomb.out + bomb.err).toMatch(
      /clusters\/dev\/apps\.yaml.*spec\.patches\[0\]\.patch.*aliases expand too far/s,
    );
    const six = await build(repoWith({ "apps/cm.yaml": cm }, `  patches:\n${patch(6)}`));
    expect(six.err).toBe("");
    expect(six.code).toBe(0);
  });

  it("a kustomization's own inline patch and plugin configuration are parsed whatever their `*` count", async () => {
    const bomb = [
      "patches:",
      "  - patch: |",
      "      apiVersion: v1",
      "      kind: ConfigMap",
      "      metadata: {name: a}",
      "      x: &a [x]",
      "      y: &b [*a, *a]",
      "      z: [*b, *b]",
      "resources: [cm.yaml]",
      "",
    ].join("\n");
    // 4 stars: parsed (always, inline), and well under the bound: builds
    const ok = await build(
      repoWith({
        "apps/kustomization.yaml": bomb,
        "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
      }),
    );
    expect(ok.code).toBe(0);
    // a plugin configuration file whose 6 `*` nest a billion laughs through merge keys under %YAML 1.1
    const config = `%YAML 1.1
---
apiVersion: builtin
kind: LabelTransformer
metadata: {name: l}
labels: {a: b}
fieldSpecs:
  - &a {path: metadata/labels, create: true}
  - &b {<<: *a, kind: KX}
  - &c {<<: *b, kind: KY}
  - {<<: *c, kind: KZ}
  - *a
  - *b
  - *c
`;
    const res = await build(
      repoWith({
        "apps/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [labels.yaml]\n",
        "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        "apps/labels.yaml": config,
      }),
    );
    // parsed (the configuration is rewritten to JSON, merge keys resolved as the check read them) and builds
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
  });
});

describe("(2) one work tree's scratch space: shared only inside the tree, gone after every run", () => {
  const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

  it("leaves no work tree, scratch or overlay behind after builds that pass, fail, are refused or time out", async () => {
    const many = Object.fromEntries(
      Array.from({ length: 6 }, (_, i) => [
        [
          `clusters/dev/k${i}.yaml`,
          fluxKustomization({ name: `k${i}`, namespace: "flux-system", path: `./k${i}` }),
        ],
        [`k${i}/cm.yaml`, cm(`c${i}`)],
      ]).flat(),
    );
    many["apps/cm.yaml"] = cm("apps");
    const good = repoWith(many);
    const passed = await build(good);
    expect(passed.err).toBe("");
    expect(passed.code).toBe(0);
    expect(engineLeftovers()).toEqual([]);

    const failing = repoWith({ ...many, "k3/kustomization.yaml": "resources: [missing.yaml]\n" });
    const failed = await build(failing);
    expect(failed.code).not.toBe(0);
    expect(failed.out + failed.err).toContain("missing.yaml");
    expect(engineLeftovers()).toEqual([]);

    const refused = repoWith({ ...many, "k2/kustomization.yaml": "resources: [../../]\n" });
    const r = await build(refused);
    expect(r.out + r.err).toMatch(/k2\/kustomization\.yaml.*resources\[0\].*leads outside the tree/s);
    expect(engineLeftovers()).toEqual([]);

    // a kustomize run stopped by the time bound, through the engine
    const plan = await buildTree({
      repoDir: good,
      clusterPath: "clusters/dev",
      selfSourceNames: ["flux-system"],
      limits: defaultManifestLimits(),
      kustomize: { timeoutMs: 1 },
    }).catch((err: unknown) => err);
    expect(plan instanceof Error ? plan.message : JSON.stringify(plan)).toMatch(
      /time limit|timed out|timeout/i,
    );
    expect(engineLeftovers()).toEqual([]);
  });

  it("the shared HOME stays empty and a pooled overlay holds only its kustomization.yaml, outside the tree", async () => {
    const files: Record<string, string> = {
      "apps/kustomization.yaml":
        "resources: [cm.yaml]\nconfigMapGenerator: [{name: g, files: [data.txt]}]\nsecretGenerator: [{name: s, literals: [k=v]}]\n",
      "apps/cm.yaml": cm("a"),
      "apps/data.txt": "hello\n",
      "clusters/dev/more.yaml": fluxKustomization({ name: "more", namespace: "flux-system", path: "./more" }),
      "more/cm.yaml": cm("b"),
    };
    const repo = repoWith(files);
    const work = prepareWorkTree(repo);
    try {
      const plan = await planTree(work, {
        clusterPath: "clusters/dev",
        selfSourceNames: ["flux-system"],
        limits: defaultManifestLimits(),
      });
      expect(JSON.stringify(plan)).toContain('"g-');
      const scratch = readdirSync(ownTmp).filter((n) => n.startsWith("gitops-bot-scratch-"));
      expect(scratch).toHaveLength(1);
      const dir = join(ownTmp, scratch[0] ?? "");
      expect(dir.startsWith(work.dir)).toBe(false);
      const entries = readdirSync(dir).sort();
      expect(entries[0]).toBe("gitops-bot-overlay-0");
      expect(entries).toContain("home");
      expect(readdirSync(join(dir, "home"))).toEqual([]);
      for (const overlay of entries.filter((e) => e !== "home"))
        expect(readdirSync(join(dir, overlay))).toEqual(["kustomization.yaml"]);
    } finally {
      work.cleanup();
    }
    expect(engineLeftovers()).toEqual([]);
  });

  it("kustomize's errors about the overlay (components, patches, duplicates) show no scratch or temp path", async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [
        { "apps/cm.yaml": cm("a"), "comp/kustomization.yaml": "resources: []\n" },
        "  components: [../comp]\n",
      ],
      [
        { "apps/cm.yaml": cm("a") },
        "  patches:\n    - patch: |\n        - op: replace\n          path: /nope/x\n          value: 1\n      target: {kind: ConfigMap}\n",
      ],
      [
        { "apps/cm.yaml": cm("a") },
        "  patches:\n    - patch: |\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: {name: zz}\n",
      ],
      [{ "apps/cm.yaml": `${cm("a")}---\n${cm("a")}` }, ""],
    ];
    for (const [files, extra] of cases) {
      const res = await build(repoWith(files, extra));
      const all = res.out + res.err;
      expect(res.code).not.toBe(0);
      expect(all).toContain("clusters/dev/apps.yaml: Kustomization/flux-system/apps");
      expect(all).not.toContain("gitops-bot-scratch");
      expect(all).not.toContain(ownTmp);
    }
    expect(engineLeftovers()).toEqual([]);
  });

  it("two repositories built at once share nothing and leave nothing", async () => {
    const a = repoWith({ "apps/cm.yaml": cm("from-a") });
    const b = repoWith({ "apps/cm.yaml": cm("from-b") });
    const [ra, rb] = await Promise.all([build(a), build(b)]);
    expect(ra.out).toContain("from-a");
    expect(ra.out).not.toContain("from-b");
    expect(rb.out).toContain("from-b");
    expect(rb.out).not.toContain("from-a");
    expect(engineLeftovers()).toEqual([]);
  });

  it("references to the scratch space beside the tree (.., absolute, symlink, spec.components) are refused", async () => {
    // The scratch space is a sibling of the work tree in TMPDIR: every way there leaves the tree.
    const attacks: Array<[Record<string, string>, string, RegExp]> = [
      [{ "apps/kustomization.yaml": "resources: [../../]\n" }, "", /resources\[0\].*leads outside the tree/s],
      [{ "apps/kustomization.yaml": `resources: [${ownTmp}]\n` }, "", /resources\[0\].*absolute path/s],
      [
        {
          "apps/kustomization.yaml": "resources: [cm.yaml]\ncomponents: [../../../]\n",
          "apps/cm.yaml": cm("a"),
        },
        "",
        /components\[0\].*leads outside the tree/s,
      ],
      [{ "apps/cm.yaml": cm("a") }, "  components:\n    - ../../..\n", /spec\.components\[0\]/],
      [
        {
          "apps/kustomization.yaml": "resources: [cm.yaml]\nopenapi: {path: ../../home/openapi.json}\n",
          "apps/cm.yaml": cm("a"),
        },
        "",
        /openapi\.path.*leads outside the tree/s,
      ],
    ];
    for (const [files, extra, message] of attacks) {
      const res = await build(repoWith(files, extra));
      expect(res.code, JSON.stringify(files)).not.toBe(0);
      expect(res.out + res.err).toMatch(message);
    }
    // A symlink to TMPDIR (where the scratch spaces are) is refused before any copy is made.
    const linked = repoWith({ "apps/cm.yaml": cm("a") });
    symlinkSync(ownTmp, join(linked, "apps/tmp"));
    const res = await build(linked);
    expect(res.code).not.toBe(0);
    expect(res.out + res.err).toMatch(/apps\/tmp/);
    expect(engineLeftovers()).toEqual([]);
  });

  it("an overlay reused from the pool holds nothing of the build before it", async () => {
    // Kustomization 1 and 2 run one after the other through the same pooled overlay; the second's output has
    // only its own objects, and patches of the first never apply to it.
    const files = {
      "clusters/dev/k1.yaml": fluxKustomization({
        name: "k1",
        namespace: "flux-system",
        path: "./one",
        extra:
          "  namePrefix: first-\n  patches:\n    - patch: |\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: {name: c}\n        data: {leaked: from-k1}\n",
      }),
      "clusters/dev/k2.yaml": fluxKustomization({ name: "k2", namespace: "flux-system", path: "./two" }),
      "one/cm.yaml": cm("c"),
      "two/cm.yaml": cm("c"),
    };
    const repo = mkdtempSync(join(ownTmp, "repo-"));
    writeTree(repo, files);
    const plan = await buildTree({
      repoDir: repo,
      clusterPath: "clusters/dev",
      selfSourceNames: ["flux-system"],
      limits: defaultManifestLimits(),
      buildConcurrency: 1,
    });
    const text = JSON.stringify(plan);
    expect(text).toContain("first-c");
    expect((text.match(/from-k1/g) ?? []).length).toBeGreaterThan(0);
    const k2 = plan.kustomizations.find((k) => k.ks.name === "k2");
    expect(k2?.objects.map((o) => o.metadata?.name)).toEqual(["c"]);
    const k2Text = JSON.stringify(k2?.objects);
    expect(k2Text).not.toContain("from-k1");
    expect(k2Text).not.toContain("first-");
    expect(engineLeftovers()).toEqual([]);
  });
});

describe("(3) the revision annotation left out of the live hash hides no drift of an applied field", () => {
  const REVISION = "deployment.kubernetes.io/revision";

  function deployment(ns: string): KubernetesObject {
    return {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "app", image: "registry.example/web:1.0" }] },
        },
      },
    } as KubernetesObject;
  }

  async function editAs(api: RawObjectApi, manager: string, patch: KubernetesObject) {
    await api.patch(patch, undefined, undefined, manager, undefined, PatchStrategy.MergePatch);
  }

  function entryOf(result: ApplyResult, subject: string) {
    const entry = result.changeSet.entries.find((e) => e.subject === subject);
    if (!entry) throw new Error(`no entry for ${subject}`);
    return entry;
  }

  it("another manager's Update of the annotation AND a field the bot applies is found and corrected", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt4-rev");
    const first = await applyAllStaged(api, [deployment(ns)]);
    expect(first.errors).toEqual([]);
    await editAs(api, "intruder", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns, annotations: { [REVISION]: "999" } },
      spec: { replicas: 5 },
    } as KubernetesObject);
    const second = await applyAllStaged(api, [deployment(ns)], { previous: first.fingerprints });
    expect(entryOf(second, `Deployment/${ns}/web`)).toMatchObject({
      action: "configured",
      drift: { fields: ["spec.replicas"], action: "corrected" },
    });
    const live = (await api.read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns },
    })) as KubernetesObject & { spec: { replicas: number } };
    expect(live.spec.replicas).toBe(1);
  });

  it("an annotation of the bot's own written over in the same Update as the revision is found", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt4-rev");
    const desired = deployment(ns);
    desired.metadata = { ...desired.metadata, annotations: { team: "payments" } };
    const first = await applyAllStaged(api, [desired]);
    await editAs(api, "intruder", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns, annotations: { [REVISION]: "42", team: "other" } },
    });
    const second = await applyAllStaged(api, [desired], { previous: first.fingerprints });
    expect(entryOf(second, `Deployment/${ns}/web`).drift?.fields).toEqual(["metadata.annotations.team"]);
  });

  it("a ConfigMap value changed by a manager that also claims the revision annotation is found (other kinds too)", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt4-rev");
    const cm: KubernetesObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: ns, labels: { tier: "gold" } },
      data: { a: "1" },
    } as KubernetesObject;
    const first = await applyAllStaged(api, [cm]);
    await editAs(api, "intruder", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: ns, annotations: { [REVISION]: "1" } },
      data: { a: "2" },
    } as KubernetesObject);
    const second = await applyAllStaged(api, [cm], { previous: first.fingerprints });
    expect(entryOf(second, `ConfigMap/${ns}/c`).drift?.fields).toEqual(["data.a"]);
  });
});
