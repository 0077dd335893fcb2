// Routing events to Alerts as Flux's event server does: event sources (kind, namespace, name or `*` with
// matchLabels), severity, inclusion and exclusion lists (RE2, linear time), suspend, and the Alert's metadata
// merged with Flux's precedence.
import { describe, expect, test } from "vitest";
import { createEvent, type NotifyEvent } from "../../src/notify/event.js";
import { compileNotifications, enrichEvent, routeEvent } from "../../src/notify/routing.js";
import { alert, memorySecrets, parsed, provider } from "./support.js";

const secrets = memorySecrets({});

function event(overrides: Partial<Parameters<typeof createEvent>[0]> = {}): NotifyEvent {
  return createEvent({
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps" },
    severity: "error",
    reason: "ReconciliationFailed",
    message: "Deployment/apps/web dry-run failed: spec.replicas: Invalid value",
    reportingController: "kustomize-controller",
    metadata: { revision: "main@sha1:0123abcd", cluster: "dev" },
    ...overrides,
  });
}

function routes(
  alertSpec: Record<string, unknown>,
  e: NotifyEvent,
  options: { crossNamespaceRefs?: boolean } = {},
) {
  const set = compileNotifications(
    parsed(
      provider("hook", { type: "generic", address: "http://127.0.0.1:1/" }),
      alert("a", { providerRef: { name: "hook" }, ...alertSpec }),
    ),
    { scope: "o/r:dev", secrets, ...options },
  );
  expect(set.errors.map((x) => x.message)).toEqual([]);
  return routeEvent(e, set);
}

const any = (kind: string, extra: Record<string, unknown> = {}) => ({
  eventSources: [{ kind, name: "*", ...extra }],
});

describe("event sources", () => {
  test.each([
    ["the kind with *", any("Kustomization"), {}, 1],
    ["another kind", any("HelmRelease"), {}, 0],
    ["the name", { eventSources: [{ kind: "Kustomization", name: "apps" }] }, {}, 1],
    ["another name", { eventSources: [{ kind: "Kustomization", name: "infra" }] }, {}, 0],
    ["the Alert's namespace by default", any("Kustomization"), { namespace: "apps" }, 0],
    ["another namespace when named", any("Kustomization", { namespace: "apps" }), { namespace: "apps" }, 1],
    [
      "matchLabels that match",
      any("Kustomization", { matchLabels: { team: "a" } }),
      { labels: { team: "a", x: "y" } },
      1,
    ],
    [
      "matchLabels that differ",
      any("Kustomization", { matchLabels: { team: "a" } }),
      { labels: { team: "b" } },
      0,
    ],
    ["matchLabels without labels", any("Kustomization", { matchLabels: { team: "a" } }), {}, 0],
    [
      "matchLabels beside a name (ignored, as in Flux)",
      { eventSources: [{ kind: "Kustomization", name: "apps", matchLabels: { team: "a" } }] },
      {},
      1,
    ],
  ])("%s", (_what, spec, object, expected) => {
    const { namespace, labels } = object as { namespace?: string; labels?: Record<string, string> };
    const e = event({
      involvedObject: { kind: "Kustomization", namespace: namespace ?? "flux-system", name: "apps" },
      ...(labels ? { labels } : {}),
    });
    expect(routes(spec, e)).toHaveLength(expected);
  });

  test("an Alert with two matching sources routes once", () => {
    const spec = {
      eventSources: [
        { kind: "Kustomization", name: "*" },
        { kind: "Kustomization", name: "apps" },
      ],
    };
    expect(routes(spec, event())).toHaveLength(1);
  });
});

describe("severity, lists and suspend", () => {
  test.each([
    ["info takes errors", { ...any("Kustomization"), eventSeverity: "info" }, "error", 1],
    ["info takes info", { ...any("Kustomization"), eventSeverity: "info" }, "info", 1],
    ["error takes errors", { ...any("Kustomization"), eventSeverity: "error" }, "error", 1],
    ["error leaves info", { ...any("Kustomization"), eventSeverity: "error" }, "info", 0],
  ])("%s", (_what, spec, severity, expected) => {
    expect(routes(spec, event({ severity: severity as "info" | "error" }))).toHaveLength(expected);
  });

  test.each([
    ["inclusion matching", { inclusionList: ["dry-run failed"] }, 1],
    ["inclusion not matching", { inclusionList: ["^succeeded"] }, 0],
    ["exclusion matching", { exclusionList: ["Invalid value$"] }, 0],
    ["exclusion stronger than inclusion", { inclusionList: ["failed"], exclusionList: ["replicas"] }, 0],
    ["Go syntax: (?i) flags", { inclusionList: ["(?i)DRY-RUN"] }, 1],
  ])("%s", (_what, lists, expected) => {
    expect(routes({ ...any("Kustomization"), ...lists }, event())).toHaveLength(expected);
  });

  test("a pattern that backtracks exponentially in JavaScript runs in linear time", () => {
    const start = Date.now();
    const found = routes(
      { ...any("Kustomization"), exclusionList: ["^(a+)+$"] },
      event({ message: `${"a".repeat(50_000)}!` }),
    );
    expect(found).toHaveLength(1);
    expect(Date.now() - start).toBeLessThan(2_000);
  });

  test("a suspended Alert routes nothing; a suspended Provider is routed and skipped", () => {
    expect(routes({ ...any("Kustomization"), suspend: true }, event())).toHaveLength(0);
    const set = compileNotifications(
      parsed(
        provider("hook", { type: "generic", address: "http://127.0.0.1:1/", suspend: true }),
        alert("a", { providerRef: { name: "hook" }, ...any("Kustomization") }),
      ),
      { scope: "s", secrets },
    );
    expect(routeEvent(event(), set)[0]?.skipped).toBe("Provider/flux-system/hook is suspended");
  });

  test("a github Provider is accepted and served by the bot's own commit statuses", () => {
    const set = compileNotifications(
      parsed(
        provider("gh", { type: "github", address: "https://github.com/o/r", secretRef: { name: "t" } }),
        alert("a", { providerRef: { name: "gh" }, ...any("Kustomization") }),
      ),
      { scope: "s", secrets },
    );
    expect(set.errors).toEqual([]);
    expect(routeEvent(event(), set)[0]?.skipped).toMatch(/served by the bot's own commit statuses/);
  });
});

describe("cross-namespace references", () => {
  test("refused when the operator says so: an error names the field, and no event from there is sent", () => {
    const set = compileNotifications(
      parsed(
        provider("hook", { type: "generic", address: "http://127.0.0.1:1/" }),
        alert("a", { providerRef: { name: "hook" }, ...any("Kustomization", { namespace: "apps" }) }),
      ),
      { scope: "s", secrets, crossNamespaceRefs: false },
    );
    expect(set.errors.map((e) => e.location)).toEqual([
      {
        file: "clusters/dev/notifications.yaml",
        object: "Alert/flux-system/a",
        field: "spec.eventSources[0].namespace",
      },
    ]);
    const inApps = event({ involvedObject: { kind: "Kustomization", namespace: "apps", name: "apps" } });
    expect(routeEvent(inApps, set)).toHaveLength(0);
  });
});

describe("compile errors", () => {
  test("a Provider type gitops-bot cannot send to names spec.type; its Alerts say why they are unused", () => {
    const set = compileNotifications(
      parsed(
        provider("pd", { type: "pagerduty", address: "https://events.pagerduty.com", channel: "key" }),
        alert("a", { providerRef: { name: "pd" }, ...any("Kustomization") }),
        alert("b", { providerRef: { name: "missing" }, ...any("Kustomization") }),
      ),
      { scope: "s", secrets },
    );
    expect(set.alerts).toHaveLength(0);
    expect(set.errors.map((e) => [e.location.object, e.location.field])).toEqual([
      ["Provider/flux-system/pd", "spec.type"],
      ["Alert/flux-system/a", "spec.providerRef.name"],
      ["Alert/flux-system/b", "spec.providerRef.name"],
    ]);
    expect(set.errors[0]?.message).toMatch(
      /"pagerduty" is not supported by gitops-bot \(supported: slack, msteams/,
    );
    expect(set.errors[2]?.message).toContain("Provider/flux-system/missing is not declared");
  });

  test("the Provider must be in the Alert's namespace", () => {
    const set = compileNotifications(
      parsed(
        provider("hook", { type: "generic", address: "http://127.0.0.1:1/" }, "other"),
        alert("a", { providerRef: { name: "hook" }, ...any("Kustomization") }),
      ),
      { scope: "s", secrets },
    );
    expect(set.errors[0]?.location.field).toBe("spec.providerRef.name");
  });
});

describe("metadata", () => {
  test("annotations < eventMetadata < summary < the event's own metadata", () => {
    const [a] = parsed(
      alert("a", {
        providerRef: { name: "p" },
        ...any("Kustomization"),
        eventMetadata: { env: "prod", summary: "from eventMetadata", cluster: "alert-cluster", region: "eu" },
        summary: "from summary",
      }),
    );
    const e = event({
      annotations: {
        "event.toolkit.fluxcd.io/deploymentID": "d-1",
        "event.toolkit.fluxcd.io/env": "from annotation",
        "other.io/ignored": "x",
      },
    });
    const enriched = enrichEvent(e, a as Extract<typeof a, { kind: "Alert" }>);
    expect(enriched.metadata).toEqual({
      deploymentID: "d-1",
      env: "prod",
      region: "eu",
      summary: "from summary",
      cluster: "dev",
      revision: "main@sha1:0123abcd",
    });
    expect(e.metadata).toEqual({ revision: "main@sha1:0123abcd", cluster: "dev" });
  });
});
