// Each provider's payload, as a real receiver on loopback gets it: the shapes Flux's notifiers send (so
// receivers built for Flux keep working), the headers, the HMAC signature, and what each does with the
// Provider's Secret.
import { createHmac } from "node:crypto";
import { afterEach, describe, expect, test } from "vitest";
import type { DeliveryResult } from "../../src/notify/deliver.js";
import { createNotifier } from "../../src/notify/deliver.js";
import { createEvent, type NotifyEvent } from "../../src/notify/event.js";
import { discordSlackUrl } from "../../src/notify/providers/discord/index.js";
import { dispatchTarget } from "../../src/notify/providers/githubdispatch/index.js";
import { slackProvider } from "../../src/notify/providers/slack/index.js";
import type { ProviderSettings } from "../../src/notify/providers/types.js";
import { compileNotifications } from "../../src/notify/routing.js";
import { createOutboundPolicy } from "../../src/util/outbound/index.js";
import {
  alert,
  bufferLogger,
  memorySecrets,
  parsed,
  provider,
  type Receiver,
  startReceiver,
} from "./support.js";

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(...args: Parameters<typeof startReceiver>) {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

function failedEvent(): NotifyEvent {
  return createEvent({
    involvedObject: {
      kind: "Kustomization",
      namespace: "flux-system",
      name: "apps",
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    },
    severity: "error",
    reason: "ReconciliationFailed",
    message: "Deployment/apps/web dry-run failed: spec.replicas: Invalid value: -1",
    reportingController: "kustomize-controller",
    timestamp: new Date("2024-05-01T10:00:00Z"),
    metadata: { revision: "main@sha1:0123456789abcdef", cluster: "dev", repository: "acme/fleet" },
  });
}

/** Delivers `event` through one Provider (an Alert for every Kustomization) and returns the outcomes. */
async function deliver(
  spec: Record<string, unknown>,
  secrets: Record<string, Record<string, string>> = {},
  event = failedEvent(),
  policy = createOutboundPolicy({}),
) {
  const results: DeliveryResult[] = [];
  const { log, text } = bufferLogger();
  const notifier = createNotifier({
    policy,
    log,
    retry: { attempts: 1 },
    onDelivery: (r) => results.push(r),
  });
  const set = compileNotifications(
    parsed(
      provider("p", spec),
      alert("a", { providerRef: { name: "p" }, eventSources: [{ kind: "Kustomization", name: "*" }] }),
    ),
    { scope: "acme/fleet:dev", secrets: memorySecrets(secrets) },
  );
  expect(set.errors).toEqual([]);
  const summary = notifier.notify(event, set);
  await notifier.idle();
  return { results, summary, logs: text() };
}

const slackAttachment = {
  color: "danger",
  author_name: "kustomization/apps.flux-system",
  text: "Deployment/apps/web dry-run failed: spec.replicas: Invalid value: -1",
  mrkdwn_in: ["text"],
  fields: [
    { title: "cluster", value: "dev", short: false },
    { title: "repository", value: "acme/fleet", short: false },
    { title: "revision", value: "main@sha1:0123456789abcdef", short: false },
  ],
};

describe("slack", () => {
  test("incoming webhook from the Secret's address: Flux's attachment, the reporting controller as username", async () => {
    const hook = await receiver();
    const { results } = await deliver(
      { type: "slack", channel: "alerts", secretRef: { name: "slack" } },
      { "flux-system/slack": { address: `${hook.url}/services/T000/B000/XXXX` } },
    );
    expect(results.map((r) => r.outcome)).toEqual(["sent"]);
    const [request] = hook.requests;
    expect(request?.url).toBe("/services/T000/B000/XXXX");
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers.authorization).toBeUndefined();
    expect(JSON.parse(request!.body)).toEqual({
      channel: "alerts",
      username: "kustomize-controller",
      icon_url: "",
      icon_emoji: "",
      attachments: [slackAttachment],
    });
  });

  test("bot token: chat.postMessage with the token as Bearer, and Slack's ok:false is a failure", async () => {
    const api = await receiver([{ status: 200, body: '{"ok":true}' }]);
    const token = "xoxb-canary-bot-token-1234";
    const spec = {
      type: "slack",
      channel: "C123",
      username: "gitops",
      address: `${api.url}/api/chat.postMessage`,
      secretRef: { name: "bot" },
    };
    const { results } = await deliver(spec, { "flux-system/bot": { token } });
    expect(results[0]?.outcome).toBe("sent");
    expect(api.requests[0]?.headers.authorization).toBe(`Bearer ${token}`);
    expect(JSON.parse(api.requests[0]!.body)).toMatchObject({ channel: "C123", username: "gitops" });
    expect(api.requests[0]!.body).not.toContain(token);

    api.answers = [{ status: 200, body: '{"ok":false,"error":"channel_not_found"}' }];
    const refused = await deliver(spec, { "flux-system/bot": { token } });
    expect(refused.results[0]).toMatchObject({ outcome: "failed", attempts: 1 });
    expect(refused.results[0]?.detail).toContain("Slack refused the message: channel_not_found");
  });

  test("chat.postMessage without a channel is refused before sending, naming spec.channel", async () => {
    const api = await receiver();
    const { results } = await deliver(
      { type: "slack", address: `${api.url}/api/chat.postMessage`, secretRef: { name: "bot" } },
      { "flux-system/bot": { token: "xoxb-1" } },
    );
    expect(results[0]?.detail).toBe(
      "Provider/flux-system/p: spec.channel: is required to post with chat.postMessage",
    );
    expect(api.requests).toHaveLength(0);
  });
});

describe("discord and rocket", () => {
  test("discord: the Slack attachment to <webhook>/slack", async () => {
    const hook = await receiver();
    await deliver({ type: "discord", address: `${hook.url}/api/webhooks/1/abc` });
    expect(hook.requests[0]?.url).toBe("/api/webhooks/1/abc/slack");
    expect(JSON.parse(hook.requests[0]!.body)).toEqual({
      channel: "",
      username: "kustomize-controller",
      icon_url: "",
      icon_emoji: "",
      attachments: [slackAttachment],
    });
  });

  test("rocket: channel and username as given, blue or red", async () => {
    const hook = await receiver();
    await deliver({ type: "rocket", address: `${hook.url}/hooks/x`, channel: "ops", username: "flux" });
    const body = JSON.parse(hook.requests[0]!.body);
    expect(body).toMatchObject({ channel: "ops", username: "flux" });
    expect(body.attachments[0]).toEqual({ ...slackAttachment, color: "#FF0000" });
  });
});

describe("msteams", () => {
  test("a Workflows webhook gets Flux's Adaptive Card", async () => {
    const hook = await receiver();
    await deliver({ type: "msteams", address: `${hook.url}/workflows/x/triggers/manual/paths/invoke` });
    expect(JSON.parse(hook.requests[0]!.body)).toEqual({
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          content: {
            $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
            type: "AdaptiveCard",
            version: "1.4",
            body: [
              {
                type: "Container",
                items: [
                  {
                    type: "TextBlock",
                    text: "kustomization/apps.flux-system",
                    size: "large",
                    weight: "bolder",
                    wrap: true,
                  },
                  { type: "TextBlock", text: slackAttachment.text, wrap: true, color: "attention" },
                  {
                    type: "FactSet",
                    facts: [
                      { title: "cluster", value: "dev" },
                      { title: "repository", value: "acme/fleet" },
                      { title: "revision", value: "main@sha1:0123456789abcdef" },
                    ],
                  },
                ],
              },
            ],
            msteams: { width: "Full" },
          },
        },
      ],
    });
  });

  test("the Office 365 connector (*.webhook.office.com) gets a MessageCard", async () => {
    const hook = await receiver();
    const policy = createOutboundPolicy({}, async () => [{ address: "127.0.0.1", family: 4 }]);
    await deliver(
      { type: "msteams", address: `http://acme.webhook.office.com:${hook.port}/webhookb2/x` },
      {},
      failedEvent(),
      policy,
    );
    expect(JSON.parse(hook.requests[0]!.body)).toEqual({
      "@type": "MessageCard",
      "@context": "http://schema.org/extensions",
      themeColor: "FF0000",
      summary: "kustomization/apps.flux-system",
      sections: [
        {
          activityTitle: slackAttachment.text,
          activitySubtitle: "kustomization/apps.flux-system",
          facts: [
            { name: "cluster", value: "dev" },
            { name: "repository", value: "acme/fleet" },
            { name: "revision", value: "main@sha1:0123456789abcdef" },
          ],
        },
      ],
    });
  });
});

describe("googlechat", () => {
  test("a card with the object, the red message and the metadata; Progressing events are skipped", async () => {
    const hook = await receiver();
    await deliver({ type: "googlechat", address: `${hook.url}/v1/spaces/S/messages?key=k&token=t` });
    expect(hook.requests[0]?.url).toBe("/v1/spaces/S/messages?key=k&token=t");
    const body = JSON.parse(hook.requests[0]!.body);
    expect(body.cards[0].header).toEqual({
      title: "kustomization/apps.flux-system",
      subtitle: "kustomize-controller",
      imageUrl: null,
      imageStyle: null,
    });
    expect(body.cards[0].sections[0].widgets[0].textParagraph.text).toBe(
      `<font color="#ff0000">${slackAttachment.text}</font>`,
    );
    expect(body.cards[0].sections[1].widgets[0].keyValue).toMatchObject({
      topLabel: "cluster",
      content: "dev",
    });

    const progressing = { ...failedEvent(), reason: "Progressing", severity: "info" as const };
    const { results } = await deliver(
      { type: "googlechat", address: `${hook.url}/v1/spaces/S/messages` },
      {},
      progressing,
    );
    expect(results[0]?.outcome).toBe("skipped");
    expect(hook.requests).toHaveLength(1);
  });
});

describe("generic and generic-hmac", () => {
  test("generic: the Flux event as JSON, Gotk-Component, and the Secret's headers", async () => {
    const hook = await receiver();
    await deliver(
      { type: "generic", address: `${hook.url}/flux`, secretRef: { name: "hook" } },
      { "flux-system/hook": { headers: "X-Team: platform\nAuthorization: Token canary-header-secret\n" } },
    );
    const [request] = hook.requests;
    expect(request?.headers["gotk-component"]).toBe("kustomize-controller");
    expect(request?.headers["x-team"]).toBe("platform");
    expect(request?.headers.authorization).toBe("Token canary-header-secret");
    expect(JSON.parse(request!.body)).toEqual({
      involvedObject: {
        kind: "Kustomization",
        namespace: "flux-system",
        name: "apps",
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      },
      severity: "error",
      timestamp: "2024-05-01T10:00:00Z",
      message: slackAttachment.text,
      reason: "ReconciliationFailed",
      metadata: { revision: "main@sha1:0123456789abcdef", cluster: "dev", repository: "acme/fleet" },
      reportingController: "kustomize-controller",
    });
  });

  test("generic-hmac: X-Signature is sha256=<hex HMAC of the exact body> under the Secret's token", async () => {
    const hook = await receiver();
    const key = "hmac-canary-key-5678";
    await deliver(
      { type: "generic-hmac", address: `${hook.url}/signed`, secretRef: { name: "hmac" } },
      { "flux-system/hmac": { token: key } },
    );
    const [request] = hook.requests;
    const expected = `sha256=${createHmac("sha256", key).update(request!.body).digest("hex")}`;
    expect(request?.headers["x-signature"]).toBe(expected);
    // The receiver's check, as Flux documents it, rejects any other key.
    const other = `sha256=${createHmac("sha256", "wrong").update(request!.body).digest("hex")}`;
    expect(request?.headers["x-signature"]).not.toBe(other);
    expect(JSON.stringify(request)).not.toContain(key);
  });

  test("generic-hmac without a token is refused before sending", async () => {
    const hook = await receiver();
    const { results } = await deliver({ type: "generic-hmac", address: `${hook.url}/signed` });
    expect(results[0]?.detail).toMatch(/spec.secretRef: generic-hmac needs the HMAC key/);
    expect(hook.requests).toHaveLength(0);
  });
});

describe("githubdispatch", () => {
  test("repository_dispatch with event_type Kind/name.namespace and the event as client_payload", async () => {
    const api = await receiver([{ status: 204 }]);
    const token = "ghp_canaryDispatchToken000000000000000";
    const { results } = await deliver(
      { type: "githubdispatch", address: `${api.url}/acme/fleet`, secretRef: { name: "gh" } },
      { "flux-system/gh": { token } },
    );
    expect(results[0]?.outcome).toBe("sent");
    const [request] = api.requests;
    expect(request?.method).toBe("POST");
    // Not github.com: GitHub Enterprise Server's API.
    expect(request?.url).toBe("/api/v3/repos/acme/fleet/dispatches");
    expect(request?.headers.authorization).toBe(`Bearer ${token}`);
    expect(request?.headers.accept).toBe("application/vnd.github+json");
    const body = JSON.parse(request!.body);
    expect(body.event_type).toBe("Kustomization/apps.flux-system");
    expect(body.client_payload).toMatchObject({
      involvedObject: { kind: "Kustomization", name: "apps", namespace: "flux-system" },
      reason: "ReconciliationFailed",
      metadata: { revision: "main@sha1:0123456789abcdef", cluster: "dev" },
    });
  });

  test("an address that names no repository is refused, naming the field", async () => {
    const { results } = await deliver(
      { type: "githubdispatch", address: "https://github.com/acme", secretRef: { name: "gh" } },
      { "flux-system/gh": { token: "t0ken" } },
    );
    expect(results[0]?.detail).toBe(
      "Provider/flux-system/p: spec.address: must name one repository: https://github.com/<owner>/<repo>",
    );
  });
});

describe("github", () => {
  test("is served by the bot's own commit statuses: nothing is posted", async () => {
    const api = await receiver();
    const { results, summary } = await deliver({ type: "github", address: `${api.url}/acme/fleet` });
    expect(summary.queued).toEqual([]);
    expect(summary.skipped[0]?.reason).toMatch(/served by the bot's own commit statuses/);
    expect(results[0]?.outcome).toBe("skipped");
    expect(api.requests).toHaveLength(0);
  });
});

describe("addresses", () => {
  const settings = (over: Partial<ProviderSettings>): ProviderSettings => ({
    subject: "Provider/flux-system/p",
    type: "slack",
    address: undefined,
    addressFromSecret: false,
    channel: undefined,
    username: undefined,
    token: undefined,
    password: undefined,
    headers: {},
    proxy: undefined,
    ca: undefined,
    secretData: {},
    timeoutMs: 15_000,
    ...over,
  });

  test("slack: a bot token and no address means chat.postMessage, which needs a channel", () => {
    expect(slackProvider.check(settings({ token: "xoxb-1", channel: "C1" }))).toBeUndefined();
    expect(slackProvider.check(settings({ token: "xoxb-1" }))?.field).toBe("spec.channel");
    expect(slackProvider.check(settings({}))).toEqual({
      field: "spec.address",
      message: "is required (in spec.address or the secretRef Secret's address)",
    });
    expect(slackProvider.check(settings({ address: "ftp://x", addressFromSecret: true }))).toEqual({
      field: "the Secret's address",
      message: "must be an http:// or https:// URL",
    });
  });

  test.each([
    ["https://github.com/acme/fleet", "https://api.github.com/repos/acme/fleet/dispatches"],
    ["https://github.com/acme/fleet.git", "https://api.github.com/repos/acme/fleet/dispatches"],
    ["https://ghe.acme.test/acme/fleet", "https://ghe.acme.test/api/v3/repos/acme/fleet/dispatches"],
  ])("githubdispatch: %s → %s", (address, url) => {
    expect(dispatchTarget(address)).toMatchObject({ url });
  });

  test.each([
    ["https://discord.com/api/webhooks/1/t", "https://discord.com/api/webhooks/1/t/slack"],
    ["https://discord.com/api/webhooks/1/t/slack", "https://discord.com/api/webhooks/1/t/slack"],
    [
      "https://discord.com/api/webhooks/1/t?wait=true",
      "https://discord.com/api/webhooks/1/t/slack?wait=true",
    ],
  ])("discord: %s → %s", (address, url) => {
    expect(discordSlackUrl(address)).toBe(url);
  });
});
