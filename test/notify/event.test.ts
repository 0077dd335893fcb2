// Events: one subject spelling, Flux's wire shape, and Flux's rate-limit identity.
import { describe, expect, test } from "vitest";
import { createEvent, eventSubject, eventTimestamp, fluxEventPayload } from "../../src/notify/event.js";
import { createRateLimiter, eventKey } from "../../src/notify/rate-limit.js";

const base = {
  involvedObject: {
    kind: "HelmRelease",
    namespace: "apps",
    name: "podinfo",
    apiVersion: "helm.toolkit.fluxcd.io/v2",
  },
  severity: "info" as const,
  reason: "InstallSucceeded",
  message: "Helm install succeeded for release apps/podinfo.v1 with chart podinfo@6.5.0",
  reportingController: "helm-controller",
};

describe("events", () => {
  test("the subject is Kind/namespace/name, and invalid parts are shown quoted", () => {
    expect(eventSubject(base.involvedObject)).toBe("HelmRelease/apps/podinfo");
    expect(eventSubject({ kind: "Kustomization", namespace: "flux-system", name: "a/../b" })).toBe(
      'Kustomization/flux-system/"a/../b"',
    );
  });

  test("the payload is Flux's Event: its fields, no labels or annotations, metadata only when there is some", () => {
    const e = createEvent({
      ...base,
      timestamp: new Date("2024-05-01T10:00:00.123Z"),
      metadata: { revision: "6.5.0", commit: undefined, cluster: "" },
      labels: { team: "a" },
      annotations: { "event.toolkit.fluxcd.io/x": "y" },
    });
    expect(e.metadata).toEqual({ revision: "6.5.0" });
    expect(fluxEventPayload(e)).toEqual({
      involvedObject: {
        kind: "HelmRelease",
        namespace: "apps",
        name: "podinfo",
        apiVersion: "helm.toolkit.fluxcd.io/v2",
      },
      severity: "info",
      timestamp: "2024-05-01T10:00:00Z",
      message: base.message,
      reason: "InstallSucceeded",
      metadata: { revision: "6.5.0" },
      reportingController: "helm-controller",
    });
    expect(Object.keys(fluxEventPayload(createEvent(base)))).not.toContain("metadata");
    expect(eventTimestamp(new Date("2024-01-02T03:04:05.999Z"))).toBe("2024-01-02T03:04:05Z");
  });

  test("messages are capped at Flux's 39,000 characters", () => {
    expect(createEvent({ ...base, message: "x".repeat(50_000) }).message).toHaveLength(39_000);
  });
});

describe("rate limit", () => {
  test("the key ignores the time and the severity, and follows the object, the message and the revision", () => {
    const a = createEvent({ ...base, metadata: { revision: "r1" }, timestamp: new Date(1) });
    expect(eventKey(a)).toBe(
      eventKey(createEvent({ ...base, metadata: { revision: "r1" }, timestamp: new Date(2) })),
    );
    expect(eventKey(a)).toBe(eventKey({ ...a, metadata: { revision: "r1", cluster: "other" } }));
    expect(eventKey(a)).not.toBe(eventKey({ ...a, metadata: { revision: "r2" } }));
    expect(eventKey(a)).not.toBe(eventKey({ ...a, message: "another" }));
    expect(eventKey(a)).not.toBe(eventKey({ ...a, involvedObject: { ...a.involvedObject, name: "other" } }));
  });

  test("a key admitted within the window is limited; after it, admitted again", () => {
    let now = 0;
    const limiter = createRateLimiter(300_000, () => now);
    expect(limiter.limited("k")).toBe(false);
    now = 299_999;
    expect(limiter.limited("k")).toBe(true);
    now = 300_000;
    expect(limiter.limited("k")).toBe(false);
    expect(limiter.limited("other")).toBe(false);
  });

  test("memory is bounded: the oldest keys are forgotten", () => {
    const limiter = createRateLimiter(300_000, () => 0, 100);
    for (let i = 0; i < 1_000; i++) limiter.limited(`k${i}`);
    expect(limiter.size).toBe(100);
    expect(limiter.limited("k999")).toBe(true);
    expect(limiter.limited("k0")).toBe(false);
  });
});
