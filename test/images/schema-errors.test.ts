// Image automation objects as Flux users write them, and the exact message each must produce: a misspelt field
// is unknown with a did-you-mean, a Flux field gitops-bot does not implement is refused as not supported (so
// the user knows the field is right), and every supported field still parses. Pure: the objects go through
// readImageAutomationObjects, as the CLI and the bot read them.
import { describe, expect, test } from "vitest";
import { parseManifests } from "../../src/flux/manifests.js";
import { readImageAutomationObjects } from "../../src/images/resources.js";

const file = "clusters/dev/images.yaml";

function read(yaml: string) {
  return readImageAutomationObjects(parseManifests(yaml, file));
}

function messageOf(yaml: string): string {
  try {
    read(yaml);
  } catch (error) {
    return (error as Error).message;
  }
  return "accepted";
}

const object = (kind: string, spec: string, apiVersion = "image.toolkit.fluxcd.io/v1") => `
apiVersion: ${apiVersion}
kind: ${kind}
metadata:
  name: app
  namespace: team-a
spec:
${spec}`;

const repository = (extra = "") =>
  object("ImageRepository", `  image: ghcr.io/acme/app\n  interval: 5m\n${extra}`);
const policy = (extra = "") =>
  object(
    "ImagePolicy",
    `  imageRepositoryRef:\n    name: app\n  policy:\n    semver:\n      range: 1.x\n${extra}`,
  );
const automation = (extra = "") =>
  object(
    "ImageUpdateAutomation",
    `  interval: 30m\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n${extra}`,
  );

const ir = `${file}: ImageRepository/team-a/app`;
const ip = `${file}: ImagePolicy/team-a/app`;
const iua = `${file}: ImageUpdateAutomation/team-a/app`;
const unsupported = "is not supported by gitops-bot";

describe("image automation objects are strict, as the other Flux kinds", () => {
  test.each([
    // Typos, at every depth, get a did-you-mean.
    [
      "ImageRepository: exclusionLst",
      repository('  exclusionLst: ["^dev-"]\n'),
      `${ir}: spec.exclusionLst: unknown field (did you mean exclusionList?)`,
    ],
    [
      "ImageRepository: secretRef.nmae",
      repository("  secretRef:\n    nmae: regcred\n"),
      `${ir}: spec.secretRef.name: is required (found spec.secretRef.nmae — did you mean name?)`,
    ],
    [
      "ImageRepository: a misspelt unsupported field is still a typo",
      repository("  certSecretRf:\n    name: ca\n"),
      `${ir}: spec.certSecretRf: unknown field (did you mean certSecretRef?)`,
    ],
    [
      "ImageRepository: a required field's typo",
      object("ImageRepository", "  imgae: ghcr.io/acme/app\n  interval: 5m\n"),
      `${ir}: spec.image: is required (found spec.imgae — did you mean image?)`,
    ],
    [
      "ImagePolicy: filterTags.patern",
      policy("  filterTags:\n    patern: '^main-'\n"),
      `${ip}: spec.filterTags.patern: unknown field (did you mean pattern?)`,
    ],
    [
      "ImagePolicy: policy.semver.rnage",
      policy().replace("range: 1.x", "rnage: 1.x"),
      `${ip}: spec.policy.semver.range: is required (found spec.policy.semver.rnage — did you mean range?)`,
    ],
    [
      "ImagePolicy: policy.semvr",
      object(
        "ImagePolicy",
        "  imageRepositoryRef:\n    name: app\n  policy:\n    semvr:\n      range: 1.x\n",
      ),
      `${ip}: spec.policy.semvr: unknown field (did you mean semver?)`,
    ],
    [
      "ImagePolicy: imageRepositoryRef.namepsace",
      policy().replace("    name: app\n", "    name: app\n    namepsace: team-b\n"),
      `${ip}: spec.imageRepositoryRef.namepsace: unknown field (did you mean namespace?)`,
    ],
    [
      "ImagePolicy: nothing close lists the fields allowed there",
      object(
        "ImagePolicy",
        "  imageRepositoryRef:\n    name: app\n  policy:\n    alphabetical:\n      sort: asc\n",
      ),
      `${ip}: spec.policy.alphabetical.sort: unknown field (expected order)`,
    ],
    [
      "a typo of metadata.name",
      repository().replace("  name: app\n", "  nmae: app\n"),
      `${file}: ImageRepository/team-a/<no name>: metadata.name: is required (found metadata.nmae — did you mean name?)`,
    ],
    [
      "ImageUpdateAutomation: git.comit",
      automation("  git:\n    comit:\n      author:\n        email: bot@example.com\n"),
      `${iua}: spec.git.comit: unknown field (did you mean commit?)`,
    ],
    [
      "ImageUpdateAutomation: git.checkout.ref.brnach",
      automation("  git:\n    checkout:\n      ref:\n        brnach: main\n"),
      `${iua}: spec.git.checkout.ref.brnach: unknown field (did you mean branch?)`,
    ],
    [
      "ImageUpdateAutomation: git.commit.author.emial",
      automation("  git:\n    commit:\n      author:\n        name: bot\n        emial: bot@example.com\n"),
      `${iua}: spec.git.commit.author.email: is required (found spec.git.commit.author.emial — did you mean email?)`,
    ],
    [
      "ImageUpdateAutomation: update.pth",
      automation("  update:\n    pth: ./clusters/dev\n"),
      `${iua}: spec.update.pth: unknown field (did you mean path?)`,
    ],
    [
      "ImageUpdateAutomation: sourceRef.nmespace",
      automation().replace("name: fleet\n", "name: fleet\n    nmespace: flux-system\n"),
      `${iua}: spec.sourceRef.nmespace: unknown field (did you mean namespace?)`,
    ],
    [
      "ImageUpdateAutomation: update.strategy is only Setters in Flux",
      automation("  update:\n    strategy: Setter\n"),
      `${iua}: spec.update.strategy: must be Setters (found "Setter" — did you mean Setters?)`,
    ],
    [
      "a kind the image group does not have",
      repository().replace("kind: ImageRepository", "kind: ImageRepositry"),
      `${file}: ImageRepositry/team-a/app: kind: "ImageRepositry" is not a kind of image.toolkit.fluxcd.io (did you mean ImageRepository?)`,
    ],
    [
      "a version Flux never had",
      object(
        "ImagePolicy",
        "  imageRepositoryRef: {name: app}\n  policy: {semver: {range: 1.x}}\n",
        "image.toolkit.fluxcd.io/v2",
      ),
      `${ip}: apiVersion: "image.toolkit.fluxcd.io/v2" is not a version of ImagePolicy (did you mean image.toolkit.fluxcd.io/v1?)`,
    ],
    [
      "a typo beside spec",
      repository().replace("spec:", "spce:\n  image: x\nstatus: {}\nspec:"),
      `${ir}: spce: unknown field (did you mean spec?)`,
    ],
    [
      "an unknown key that could disguise the message is quoted, not printed raw",
      repository('  "image\\nspec.image: ok": x\n'),
      `${ir}: spec."image\\nspec.image: ok": unknown field`,
    ],
    [
      "an unknown key of 1,000 characters is bounded and costs no did-you-mean",
      repository(`  ${"k".repeat(1000)}: x\n`),
      `${ir}: spec."${"k".repeat(100)}…": unknown field`,
    ],
    // Flux fields gitops-bot does not implement: named, and said to be unsupported, not unknown.
    [
      "ImageRepository: certSecretRef",
      repository("  certSecretRef:\n    name: registry-ca\n"),
      `${ir}: spec.certSecretRef: ${unsupported} (TLS client certificates and CA bundles from a Secret)`,
    ],
    [
      "ImageRepository: proxySecretRef",
      repository("  proxySecretRef:\n    name: proxy\n"),
      `${ir}: spec.proxySecretRef: ${unsupported} (registry requests go through the operator's outbound policy)`,
    ],
    [
      "ImageRepository: serviceAccountName",
      repository("  serviceAccountName: puller\n"),
      `${ir}: spec.serviceAccountName: ${unsupported} (a ServiceAccount's pull secrets; use spec.secretRef)`,
    ],
    [
      "ImageRepository: accessFrom",
      repository("  accessFrom:\n    namespaceSelectors:\n      - matchLabels: {team: a}\n"),
      `${ir}: spec.accessFrom: ${unsupported} (cross-namespace access lists)`,
    ],
    [
      "ImageRepository: provider aws",
      repository("  provider: aws\n"),
      `${ir}: spec.provider: "aws" ${unsupported} (cloud workload identity; use generic with spec.secretRef)`,
    ],
    [
      "ImageRepository: provider misspelt",
      repository("  provider: azur\n"),
      `${ir}: spec.provider: must be one of generic, aws, azure or gcp (found "azur" — did you mean azure?)`,
    ],
    [
      "ImagePolicy: digestReflectionPolicy Always",
      policy("  digestReflectionPolicy: Always\n  interval: 10m\n"),
      `${ip}: spec.digestReflectionPolicy: "Always" ${unsupported} (digests are not reflected; only Never)`,
    ],
    [
      "ImagePolicy: digestReflectionPolicy IfNotPresent",
      policy("  digestReflectionPolicy: IfNotPresent\n"),
      `${ip}: spec.digestReflectionPolicy: "IfNotPresent" ${unsupported} (digests are not reflected; only Never)`,
    ],
    [
      "ImagePolicy: interval",
      policy("  interval: 10m\n"),
      `${ip}: spec.interval: ${unsupported} (digest refreshes, which only apply with digestReflectionPolicy: Always)`,
    ],
    [
      "ImagePolicy: suspend: true",
      policy("  suspend: true\n"),
      `${ip}: spec.suspend: true ${unsupported} (suspend the ImageUpdateAutomation or the ImageRepository instead)`,
    ],
    [
      "ImageUpdateAutomation: policySelector",
      automation("  policySelector:\n    matchLabels: {team: a}\n"),
      `${iua}: spec.policySelector: ${unsupported} (every ImagePolicy a marker names is used)`,
    ],
    [
      "ImageUpdateAutomation: git.commit.signingKey",
      automation(
        "  git:\n    commit:\n      author: {email: bot@example.com}\n      signingKey:\n        secretRef: {name: gpg}\n",
      ),
      `${iua}: spec.git.commit.signingKey: ${unsupported} (GitHub signs the bot's commits)`,
    ],
    [
      "ImageUpdateAutomation: git.push.refspec",
      automation("  git:\n    push:\n      refspec: refs/heads/main:refs/heads/auto\n"),
      `${iua}: spec.git.push.refspec: ${unsupported} (updates are pushed to one pull request branch)`,
    ],
    [
      "ImageUpdateAutomation: git.push.options",
      automation("  git:\n    push:\n      options:\n        merge_request.create: ''\n"),
      `${iua}: spec.git.push.options: ${unsupported} (commits are made through GitHub's API, not git push)`,
    ],
    ...[
      "tag: v1.0.0",
      "semver: 1.x",
      "name: refs/heads/main",
      "commit: 0123456789abcdef0123456789abcdef01234567",
    ].map((ref) => {
      const field = ref.slice(0, ref.indexOf(":"));
      return [
        `ImageUpdateAutomation: git.checkout.ref.${field}`,
        automation(`  git:\n    checkout:\n      ref:\n        ${ref}\n`),
        `${iua}: spec.git.checkout.ref.${field}: ${unsupported} (updates are pull requests onto a branch; use branch)`,
      ];
    }),
  ])("%s", (_name, yaml, message) => {
    expect(messageOf(yaml)).toBe(message);
  });
});

describe("every field gitops-bot supports still parses", () => {
  test("ImageRepository, v1beta2 and v1", () => {
    for (const apiVersion of ["image.toolkit.fluxcd.io/v1beta2", "image.toolkit.fluxcd.io/v1"]) {
      const { repositories } = read(
        object(
          "ImageRepository",
          `  image: ghcr.io/acme/app
  interval: 5m
  timeout: 1m
  secretRef: {name: regcred}
  exclusionList: ["^.*\\\\.sig$", "^dev-"]
  insecure: false
  suspend: false
  provider: generic
`,
          apiVersion,
        ),
      );
      expect(repositories).toHaveLength(1);
      expect(repositories[0]?.spec).toMatchObject({
        image: "ghcr.io/acme/app",
        intervalMs: 300_000,
        timeout: "1m",
        secretRef: { name: "regcred" },
        exclusionList: ["^.*\\.sig$", "^dev-"],
        provider: "generic",
      });
    }
  });

  test("ImagePolicy with every policy field and digestReflectionPolicy: Never", () => {
    const { policies } = read(
      object(
        "ImagePolicy",
        `  imageRepositoryRef: {name: app, namespace: team-b}
  policy:
    numerical: {order: desc}
  filterTags:
    pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'
    extract: '$ts'
  digestReflectionPolicy: Never
  suspend: false
`,
      ),
    );
    expect(policies[0]?.spec).toMatchObject({
      imageRepositoryRef: { name: "app", namespace: "team-b" },
      policy: { numerical: { order: "desc" } },
      filterTags: { pattern: "^main-[a-f0-9]+-(?P<ts>[0-9]+)", extract: "$ts" },
    });
  });

  test("ImageUpdateAutomation with every supported git field", () => {
    const { automations } = read(
      object(
        "ImageUpdateAutomation",
        `  interval: 30m
  sourceRef:
    apiVersion: source.toolkit.fluxcd.io/v1
    kind: GitRepository
    name: fleet
    namespace: flux-system
  git:
    checkout:
      ref: {branch: main}
    commit:
      author: {name: fluxcdbot, email: fluxcdbot@users.noreply.github.com}
      messageTemplate: '{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}'
      messageTemplateValues: {env: dev}
    push:
      branch: gitops-bot/image-updates/app
  update:
    path: ./clusters/dev
    strategy: Setters
  suspend: false
`,
      ),
    );
    expect(automations[0]?.spec).toMatchObject({
      intervalMs: 1_800_000,
      sourceRef: { kind: "GitRepository", name: "fleet", namespace: "flux-system" },
      git: { checkout: { ref: { branch: "main" } }, push: { branch: "gitops-bot/image-updates/app" } },
      update: { path: "./clusters/dev", strategy: "Setters" },
    });
  });

  test("defaults stay Flux's: update strategy Setters, sourceRef kind GitRepository, namespace default", () => {
    const { automations, repositories } = read(
      `${automation().replace("    kind: GitRepository\n", "").replace("  namespace: team-a\n", "")}---${repository()}`,
    );
    expect(automations[0]).toMatchObject({
      namespace: "default",
      spec: { sourceRef: { kind: "GitRepository" }, update: { strategy: "Setters" } },
    });
    expect(repositories[0]?.spec.exclusionList).toEqual(["^.*\\.sig$"]);
  });
});
