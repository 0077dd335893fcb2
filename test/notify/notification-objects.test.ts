// Provider and Alert objects as a repository writes them: Flux's v1beta3 (and v1beta2) fields read, and every
// mistake reported with the file, the object and the field.
import { describe, expect, test } from "vitest";
import { ManifestError } from "../../src/flux/errors.js";
import { isNotificationObject, parseNotificationObject } from "../../src/flux/notification.js";
import { readNotificationObjects } from "../../src/notify/read-objects.js";
import { alert, provider } from "./support.js";

const file = "clusters/dev/alerts.yaml";

function refusal(object: ReturnType<typeof provider>): ManifestError {
  try {
    parseNotificationObject(object, file);
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return error as ManifestError;
  }
  throw new Error("expected the object to be refused");
}

describe("Provider", () => {
  test("reads Flux's v1beta3 fields, and v1beta2 with its interval", () => {
    const p = parseNotificationObject(
      provider("slack", {
        type: "slack",
        channel: "general",
        username: "flux",
        address: "https://slack.com/api/chat.postMessage",
        proxy: "http://proxy.internal:3128",
        timeout: "30s",
        secretRef: { name: "slack-token" },
        certSecretRef: { name: "slack-ca" },
        suspend: false,
      }),
      file,
    );
    expect(p).toMatchObject({
      kind: "Provider",
      name: "slack",
      namespace: "flux-system",
      subject: "Provider/flux-system/slack",
      timeoutMs: 30_000,
      spec: { type: "slack", channel: "general", secretRef: { name: "slack-token" } },
    });
    const old = { ...provider("hook", { type: "generic", interval: "5m", address: "https://x.test/" }) };
    old.apiVersion = "notification.toolkit.fluxcd.io/v1beta2";
    expect(parseNotificationObject(old, file)).toMatchObject({ kind: "Provider", timeoutMs: undefined });
  });

  test.each([
    [{ type: "pigeon" }, "spec.type", /"pigeon" is not a provider type/],
    [{ type: "slack", timeout: "soon" }, "spec.timeout", /duration/],
    [{ type: "slack", proxy: "socks5://p:1080" }, "spec.proxy", /http/],
    [{ type: "slack", secretRef: { name: "../etc" } }, "spec.secretRef.name", /not a valid name/],
    [{ type: "slack", certSecretRef: {} }, "spec.certSecretRef.name", /./],
    [{ type: "slack", address: "x".repeat(3000) }, "spec.address", /2048/],
  ])("refuses %j at %s", (spec, field, message) => {
    const error = refusal(provider("p", spec));
    expect(error.location).toEqual({ file, object: "Provider/flux-system/p", field });
    expect(error.reason).toMatch(message);
  });

  test("names are checked with Kubernetes' rules", () => {
    const error = refusal(provider("Bad_Name", { type: "slack" }));
    expect(error.location.field).toBe("metadata.name");
    expect(error.message).toContain(file);
  });

  test("other API versions are refused with the one to use", () => {
    const object = provider("p", { type: "slack" });
    object.apiVersion = "notification.toolkit.fluxcd.io/v1";
    expect(refusal(object).message).toMatch(/apiVersion: .*use notification.toolkit.fluxcd.io\/v1beta3/);
  });
});

describe("Alert", () => {
  test("reads eventSources, severities, lists, metadata, summary and suspend", () => {
    const a = parseNotificationObject(
      alert("on-call", {
        providerRef: { name: "slack" },
        eventSeverity: "error",
        eventSources: [
          { kind: "Kustomization", name: "*", matchLabels: { team: "apps" } },
          { kind: "HelmRelease", name: "podinfo", namespace: "apps" },
        ],
        inclusionList: [".*failed.*"],
        exclusionList: ["waiting.*socket"],
        eventMetadata: { env: "prod" },
        summary: "prod impacted",
        suspend: false,
      }),
      file,
    );
    expect(a).toMatchObject({ kind: "Alert", subject: "Alert/flux-system/on-call" });
    expect(a.kind === "Alert" && a.spec.eventSources).toHaveLength(2);
  });

  test("eventSeverity defaults to info", () => {
    const a = parseNotificationObject(
      alert("a", { providerRef: { name: "p" }, eventSources: [{ kind: "GitRepository", name: "*" }] }),
      file,
    );
    expect(a.kind === "Alert" && a.spec.eventSeverity).toBe("info");
  });

  test.each([
    [{ eventSources: [{ kind: "Kustomization", name: "*" }] }, "spec.providerRef", /./],
    [{ providerRef: { name: "p" }, eventSources: [] }, "spec.eventSources", /at least one/],
    [
      { providerRef: { name: "p" }, eventSources: [{ kind: "Deployment", name: "*" }] },
      "spec.eventSources.0.kind",
      /./,
    ],
    [
      { providerRef: { name: "p" }, eventSources: [{ kind: "Kustomization", name: "app-*" }] },
      "spec.eventSources.0.name",
      /not a valid name/,
    ],
    [
      { providerRef: { name: "p" }, eventSources: [{ kind: "Kustomization", name: "*", namespace: "NS" }] },
      "spec.eventSources.0.namespace",
      /not a valid namespace/,
    ],
    [
      {
        providerRef: { name: "p" },
        eventSources: [{ kind: "Kustomization", name: "*", matchLabels: { "a b": "x" } }],
      },
      "spec.eventSources.0.matchLabels.a b",
      /label key/,
    ],
    [
      {
        providerRef: { name: "p" },
        eventSources: [{ kind: "Kustomization", name: "*" }],
        exclusionList: ["(a"],
      },
      "spec.exclusionList.0",
      /not a valid regular expression/,
    ],
    [
      {
        providerRef: { name: "p" },
        eventSources: [{ kind: "Kustomization", name: "*" }],
        inclusionList: ["(?<=x)y"],
      },
      "spec.inclusionList.0",
      /not a valid regular expression/,
    ],
    [
      {
        providerRef: { name: "p" },
        eventSources: [{ kind: "Kustomization", name: "*" }],
        summary: "s".repeat(256),
      },
      "spec.summary",
      /255/,
    ],
    [
      {
        providerRef: { name: "p" },
        eventSources: [{ kind: "Kustomization", name: "*" }],
        eventSeverity: "warn",
      },
      "spec.eventSeverity",
      /./,
    ],
  ])("refuses %j at %s", (spec, field, message) => {
    const error = refusal(alert("a", spec));
    expect(error.location).toEqual({ file, object: "Alert/flux-system/a", field });
    expect(error.reason).toMatch(message);
  });

  test("only notification.toolkit.fluxcd.io Providers and Alerts are notification objects", () => {
    expect(isNotificationObject(alert("a", {}))).toBe(true);
    expect(isNotificationObject({ apiVersion: "v1", kind: "Provider" })).toBe(false);
    expect(isNotificationObject({ apiVersion: "notification.toolkit.fluxcd.io/v1", kind: "Receiver" })).toBe(
      false,
    );
  });
});

describe("readNotificationObjects", () => {
  test("parses each Provider and Alert on its own: a broken one is an error, the others are kept", () => {
    const read = readNotificationObjects([
      { object: provider("ok", { type: "generic", address: "https://x.test/" }), file: "a.yaml" },
      { object: provider("broken", { type: "pigeon" }), file: "b.yaml" },
      {
        object: alert("a", {
          providerRef: { name: "ok" },
          eventSources: [{ kind: "Kustomization", name: "*" }],
        }),
        file: "c.yaml",
      },
      { object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } }, file: "d.yaml" },
    ]);
    expect(read.objects.map((o) => o.subject)).toEqual(["Provider/flux-system/ok", "Alert/flux-system/a"]);
    expect(read.errors.map((e) => e.location)).toEqual([
      { file: "b.yaml", object: "Provider/flux-system/broken", field: "spec.type" },
    ]);
  });
});
