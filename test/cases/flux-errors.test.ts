// Bad Flux objects as people write them, and the exact message each must produce: file, object, field, and
// what to do. Pure: the objects go through the same parsers the planner uses (no cluster, no kustomize). The
// last rows go through the CLI, so the message reaches the user unchanged.
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { checkFluxLookAlike, isKustomizeConfig } from "../../src/flux/api-groups.js";
import { isHelmRelease, parseHelmRelease } from "../../src/flux/helm-release.js";
import { isKustomization, parseKustomization } from "../../src/flux/kustomization.js";
import { parseManifests } from "../../src/flux/manifests.js";
import { isNotificationObject, parseNotificationObject } from "../../src/flux/notification.js";
import { isSource, parseSource } from "../../src/flux/sources.js";
import { cli } from "../support/cli.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const file = "clusters/dev/apps.yaml";

/** What the planner does with one object read from `file`: look-alike check, then the kind's parser. */
function parse(object: KubernetesObject): void {
  checkFluxLookAlike(object, file);
  if (isKustomization(object)) parseKustomization(object, file);
  else if (isHelmRelease(object)) parseHelmRelease(object, file);
  else if (isSource(object)) parseSource(object, file);
  else if (isNotificationObject(object)) parseNotificationObject(object, file);
}

function messageOf(yaml: string): string {
  const [sourced] = parseManifests(yaml, file);
  if (!sourced) throw new Error("no object in the case");
  try {
    parse(sourced.object);
  } catch (error) {
    return (error as Error).message;
  }
  return "accepted";
}

const kustomization = (
  spec: string,
  apiVersion = "kustomize.toolkit.fluxcd.io/v1",
  kind = "Kustomization",
) => `
apiVersion: ${apiVersion}
kind: ${kind}
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  sourceRef:
    kind: GitRepository
    name: flux-system
${spec}`;

const helmRelease = (spec: string) => `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: apps
spec:
  interval: 5m
${spec}`;

const chart = `  chart:
    spec:
      chart: podinfo
      sourceRef:
        kind: HelmRepository
        name: podinfo
`;

const ks = "Kustomization/flux-system/apps";
const hr = "HelmRelease/apps/podinfo";

describe("bad Flux objects name file, object and field in plain words", () => {
  test.each([
    // Typos in field names (issue 15), at every depth.
    [
      "targetNamespce",
      kustomization("  prune: true\n  targetNamespce: apps\n"),
      `${file}: ${ks}: spec.targetNamespce: unknown field (did you mean targetNamespace?)`,
    ],
    [
      "wiat",
      kustomization("  prune: true\n  wiat: true\n"),
      `${file}: ${ks}: spec.wiat: unknown field (did you mean wait?)`,
    ],
    [
      "versoin",
      helmRelease(chart.replace("chart: podinfo", "chart: podinfo\n      versoin: 6.x")),
      `${file}: ${hr}: spec.chart.spec.versoin: unknown field (did you mean version?)`,
    ],
    [
      "valuess",
      helmRelease(`${chart}  valuess:\n    replicaCount: 2\n`),
      `${file}: ${hr}: spec.valuess: unknown field (did you mean values?)`,
    ],
    [
      "a typo in sourceRef",
      kustomization("  prune: true\n").replace(
        "name: flux-system\n",
        "name: flux-system\n    namepsace: flux-system\n",
      ),
      `${file}: ${ks}: spec.sourceRef.namepsace: unknown field (did you mean namespace?)`,
    ],
    [
      "a typo in postBuild",
      kustomization("  prune: true\n  postBuild:\n    substitue:\n      cluster: dev\n"),
      `${file}: ${ks}: spec.postBuild.substitue: unknown field (did you mean substitute?)`,
    ],
    [
      "a typo in a list entry",
      kustomization("  prune: true\n  dependsOn:\n    - name: infra\n      namespce: flux-system\n"),
      `${file}: ${ks}: spec.dependsOn.0.namespce: unknown field (did you mean namespace?)`,
    ],
    [
      "a typo in upgrade.remediation",
      helmRelease(`${chart}  upgrade:\n    remediation:\n      retires: 3\n`),
      `${file}: ${hr}: spec.upgrade.remediation.retires: unknown field (did you mean retries?)`,
    ],
    [
      "an unknown field with nothing close lists the fields allowed there",
      helmRelease(`${chart}  upgrade:\n    remediation:\n      attempts: 3\n`),
      `${file}: ${hr}: spec.upgrade.remediation.attempts: unknown field (expected retries, ignoreTestFailures, remediateLastFailure or strategy)`,
    ],
    [
      "a typo beside spec",
      kustomization("  prune: true\n").replace("spec:", "status: {}\nspce:"),
      `${file}: ${ks}: spec: is required (found spce — did you mean spec?)`,
    ],
    [
      "a typo in a GitRepository ref",
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 1m
  url: https://github.com/stefanprodan/podinfo
  ref:
    brnach: master
`,
      `${file}: GitRepository/flux-system/podinfo: spec.ref.brnach: unknown field (did you mean branch?)`,
    ],
    [
      "a typo in a Provider",
      `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: slack, namespace: flux-system}
spec:
  type: slack
  chanel: general
`,
      `${file}: Provider/flux-system/slack: spec.chanel: unknown field (did you mean channel?)`,
    ],
    // A required field's typo is named (issue 15: `prunee: true`).
    [
      "prunee",
      kustomization("  prunee: true\n"),
      `${file}: ${ks}: spec.prune: is required (found spec.prunee — did you mean prune?)`,
    ],
    [
      "a required field's typo in a list entry",
      `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: on-call, namespace: flux-system}
spec:
  providerRef: {name: slack}
  eventSources:
    - kind: Kustomization
      nmae: apps
`,
      `${file}: Alert/flux-system/on-call: spec.eventSources.0.name: is required (found spec.eventSources.0.nmae — did you mean name?)`,
    ],
    [
      "a typo of metadata",
      kustomization("  prune: true\n").replace("metadata:", "metdata:"),
      `${file}: Kustomization/flux-system/<no name>: metadata.name: is required (found metdata — did you mean metadata?)`,
    ],
    [
      "a typo of metadata.name",
      kustomization("  prune: true\n").replace("  name: apps", "  nmae: apps"),
      `${file}: Kustomization/flux-system/<no name>: metadata.name: is required (found metadata.nmae — did you mean name?)`,
    ],
    // zod's wording in plain language.
    ["prune left out", kustomization(""), `${file}: ${ks}: spec.prune: is required`],
    [
      "prune: yes",
      kustomization("  prune: yes\n"),
      `${file}: ${ks}: spec.prune: must be true or false (found "yes")`,
    ],
    [
      "interval: 10",
      kustomization("  prune: true\n").replace("interval: 10m", "interval: 10"),
      `${file}: ${ks}: spec.interval: must be a duration like 30s, 5m or 1h30m (found 10)`,
    ],
    [
      "interval: ten minutes",
      kustomization("  prune: true\n").replace("interval: 10m", "interval: ten minutes"),
      `${file}: ${ks}: spec.interval: must be a duration like 30s, 5m or 1h30m (found "ten minutes")`,
    ],
    [
      "a sourceRef kind Flux does not have",
      kustomization("  prune: true\n").replace("kind: GitRepository", "kind: GitRepositry"),
      `${file}: ${ks}: spec.sourceRef.kind: must be one of GitRepository, OCIRepository, Bucket or ExternalArtifact (found "GitRepositry" — did you mean GitRepository?)`,
    ],
    [
      "a list where a mapping goes",
      kustomization("  prune: true\n  commonMetadata:\n    - team: apps\n"),
      `${file}: ${ks}: spec.commonMetadata: must be a mapping (key: value) (found a list)`,
    ],
    [
      "maxHistory: 2.5",
      helmRelease(`${chart}  maxHistory: 2.5\n`),
      `${file}: ${hr}: spec.maxHistory: must be a whole number (found 2.5)`,
    ],
    [
      "maxHistory: -1",
      helmRelease(`${chart}  maxHistory: -1\n`),
      `${file}: ${hr}: spec.maxHistory: must be at least 0 (found -1)`,
    ],
    // An object that looks like Flux is an error, not skipped (issue 15: a typo in the API group).
    [
      "a typo in the API group",
      kustomization("  prune: true\n", "kustomize.toolkit.fluxcd.oi/v1"),
      `${file}: ${ks}: apiVersion: "kustomize.toolkit.fluxcd.oi/v1" is not a Flux API group (did you mean kustomize.toolkit.fluxcd.io/v1?)`,
    ],
    [
      "an unknown group of fluxcd.io",
      kustomization("  prune: true\n", "kustomization.toolkit.fluxcd.io/v1"),
      `${file}: ${ks}: apiVersion: "kustomization.toolkit.fluxcd.io/v1" is not a Flux API group (did you mean kustomize.toolkit.fluxcd.io/v1?)`,
    ],
    [
      "a typo in the kind",
      kustomization("  prune: true\n", "kustomize.toolkit.fluxcd.io/v1", "Kustomisation"),
      `${file}: Kustomisation/flux-system/apps: kind: "Kustomisation" is not a kind of kustomize.toolkit.fluxcd.io (did you mean Kustomization?)`,
    ],
    [
      "a version Flux never had",
      helmRelease(chart).replace("helm.toolkit.fluxcd.io/v2", "helm.toolkit.fluxcd.io/v3"),
      `${file}: ${hr}: apiVersion: "helm.toolkit.fluxcd.io/v3" is not a version of HelmRelease (did you mean helm.toolkit.fluxcd.io/v2?)`,
    ],
    [
      "an old version keeps its migration hint",
      kustomization("  prune: true\n", "kustomize.toolkit.fluxcd.io/v1beta2"),
      `${file}: ${ks}: apiVersion: kustomize.toolkit.fluxcd.io/v1beta2 is not supported; use kustomize.toolkit.fluxcd.io/v1 (flux migrate updates older versions)`,
    ],
  ])("%s", (_case, yaml, message) => {
    expect(messageOf(yaml)).toBe(message);
  });
});

describe("valid Flux fields gitops-bot does not act on are accepted, as before", () => {
  test.each([
    [
      "Kustomization deletionPolicy, healthCheckExprs, ignoreMissingComponents, dependsOn.readyExpr",
      kustomization(`  prune: true
  deletionPolicy: Orphan
  ignoreMissingComponents: true
  healthCheckExprs:
    - apiVersion: example.com/v1
      kind: Widget
      current: status.ready == true
  dependsOn:
    - name: infra
      readyExpr: status.ready
`),
    ],
    [
      "HelmRelease install/upgrade strategy, disableTakeOwnership, valuesFrom literal, waitStrategy",
      helmRelease(`${chart}  install:
    strategy:
      name: RemediateOnFailure
    disableTakeOwnership: true
  upgrade:
    strategy:
      name: RemediateOnFailure
    serverSideApply: auto
  valuesFrom:
    - kind: ConfigMap
      name: values
      literal: true
  waitStrategy:
    name: poller
`),
    ],
    [
      "values are free-form",
      helmRelease(`${chart}  values:
    anything:
      goes: [1, {nested: true}]
    replicaCount: 2
`),
    ],
    [
      "GitRepository sparseCheckout",
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 1m
  url: https://github.com/stefanprodan/podinfo
  sparseCheckout: [deploy]
`,
    ],
    [
      "HelmRepository accessFrom",
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo, namespace: flux-system}
spec:
  url: https://stefanprodan.github.io/podinfo
  accessFrom:
    namespaceSelectors:
      - matchLabels: {team: apps}
`,
    ],
    [
      "Provider commitStatusExpr and proxySecretRef",
      `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: github, namespace: flux-system}
spec:
  type: github
  address: https://github.com/org/repo
  commitStatusExpr: "'flux/' + event.involvedObject.name"
  proxySecretRef: {name: proxy}
`,
    ],
    [
      "a status left in by an export",
      `${kustomization("  prune: true\n")}status:\n  observedGeneration: 3\n`,
    ],
  ])("%s", (_case, yaml) => {
    expect(messageOf(yaml)).toBe("accepted");
  });

  test("kustomize's own kustomization.yaml is not a Flux object (nor a look-alike)", () => {
    const [config] = parseManifests(
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [gotk-sync.yaml]\n",
      "clusters/staging/flux-system/kustomization.yaml",
    );
    expect(config && isKustomizeConfig(config.object)).toBe(true);
    expect(messageOf("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n")).toBe("accepted");
  });
});

describe("through the CLI, the message reaches the user unchanged", () => {
  test("a typo in a field fails the build with the field and the suggestion", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
        extra: "  targetNamespce: apps\n",
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const { code, out, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect({ code, out }).toEqual({ code: 2, out: "" });
    expect(err).toBe(
      "gitops-bot build: clusters/dev/apps.yaml: Kustomization/flux-system/apps: spec.targetNamespce: unknown field (did you mean targetNamespace?)\n",
    );
  });

  test("a Kustomization defined twice names both files", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "clusters/dev/apps-copy.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(err).toBe(
      "gitops-bot build: clusters/dev/apps.yaml: Kustomization/flux-system/apps: is defined more than once (also in clusters/dev/apps-copy.yaml)\n",
    );
  });

  test("a Kustomization without spec.path that builds itself says so, with both locations", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
      }).replace("  path: ./apps\n", ""),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(err).toBe(
      "gitops-bot build: ./ (built by Kustomization flux-system/apps): Kustomization/flux-system/apps: is defined more than once (also in clusters/dev/apps.yaml): its own build contains it, because spec.path is not set and the whole repository is built; set spec.path to the directory of its manifests\n",
    );
  });

  test("a look-alike Flux object inside a build fails that Kustomization instead of reaching the cluster", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/podinfo.yaml": `${helmRelease(chart).replace("helm.toolkit.fluxcd.io/v2", "helm.toolkit.fluxcd/v2")}`,
    });
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(err).toBe(
      'gitops-bot build: ./apps (built by Kustomization flux-system/apps): HelmRelease/apps/podinfo: apiVersion: "helm.toolkit.fluxcd/v2" is not a Flux API group (did you mean helm.toolkit.fluxcd.io/v2?)\n',
    );
  });

  test("a Kustomization of an ExternalArtifact no ArtifactGenerator makes names the missing artifact", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
      }).replace("kind: GitRepository", "kind: ExternalArtifact"),
    });
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(err).toBe(
      "gitops-bot build: clusters/dev/apps.yaml: Kustomization/flux-system/apps: spec.sourceRef: ExternalArtifact flux-system/flux-system is not defined in the repository\n",
    );
  });

  test("bootstrap's flux-system/kustomization.yaml is not reported as an object", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "clusters/dev/flux-system/kustomization.yaml":
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [gotk-sync.yaml]\n",
      // A kustomization.yaml may have no apiVersion or kind at all.
      "clusters/dev/infra/kustomization.yaml": "resources: [../apps.yaml]\n",
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const { code, out, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(0);
    expect(out).toContain("name: settings");
    expect(err).not.toContain("kustomization.yaml");
  });
});
