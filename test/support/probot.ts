/**
 * Probot as the tests run it: real app authentication (a real RSA key signs real JWTs), no retries or
 * throttling to hide a failing request, and GitHub's own example webhook payloads as input.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { WebhookDefinition } from "@octokit/webhooks-examples";
import { pino } from "pino";
import { type ApplicationFunction, Probot, ProbotOctokit } from "probot";

/** Every event probot can receive, e.g. `{ name: "push", id, payload }`. */
export type WebhookEvent = Parameters<Probot["receive"]>[0];
/** Event names as GitHub sends them (`push`, `pull_request`); the action is in the payload. */
export type WebhookEventName = WebhookEvent["name"];
export type WebhookPayload<Name extends WebhookEventName> = Extract<WebhookEvent, { name: Name }>["payload"];

export interface TestProbotOptions {
  /** API root for GitHub Enterprise Server tests, e.g. `https://ghe.example.com/api/v3`. */
  baseUrl?: string;
  /** An Octokit class to use instead of the test one (which has retries and throttling off). */
  Octokit?: typeof ProbotOctokit;
}

export const TEST_APP_ID = 123;

type OctokitOptions = NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>;

// Retries would turn one unexpected request into several. Throttling shares one limiter across all Probot
// instances in the process, so every write waits a second after the previous test's write. Probot replaces
// the whole `throttle` object with its own, which would drop an `enabled: false` given as a plain default;
// as a function this layer sees Probot's options and gets the last word.
const TestOctokit = ProbotOctokit.defaults((options: OctokitOptions) => ({
  ...options,
  retry: { enabled: false },
  throttle: { ...options.throttle, enabled: false },
}));

let privateKey: string | undefined;
let webhookDefinitions: WebhookDefinition[] | undefined;

/** Creates a Probot with test credentials and loads `appFn` into it. Logs are silent unless TEST_LOG_LEVEL is set. */
export async function createTestProbot(
  appFn: ApplicationFunction,
  options: TestProbotOptions = {},
): Promise<Probot> {
  const probot = new Probot({
    appId: TEST_APP_ID,
    privateKey: testPrivateKey(),
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    Octokit: options.Octokit ?? TestOctokit,
    ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
  });
  await probot.load(appFn);
  return probot;
}

/**
 * A deep copy of one of GitHub's example payloads for `name`: the first that `predicate` accepts, e.g.
 * `webhookExample("pull_request", (payload) => payload.action === "opened")`.
 */
export function webhookExample<Name extends WebhookEventName>(
  name: Name,
  predicate: (payload: WebhookPayload<Name>) => boolean = () => true,
): WebhookPayload<Name> {
  const definition = loadWebhookDefinitions().find((candidate) => candidate.name === name);
  if (!definition) throw new Error(`@octokit/webhooks-examples has no "${name}" event`);
  // The examples are the payloads GitHub documents for this event, which is what the name's type describes.
  const examples = definition.examples as unknown as WebhookPayload<Name>[];
  const found = examples.find(predicate);
  if (!found) throw new Error(`no "${name}" example in @octokit/webhooks-examples matches the predicate`);
  return structuredClone(found);
}

/** Delivers a webhook as GitHub would; rejects with the handlers' errors. */
export async function receive<Name extends WebhookEventName>(
  probot: Probot,
  name: Name,
  payload: WebhookPayload<Name>,
  id: string = randomUUID(),
): Promise<void> {
  // TypeScript cannot relate a generic name to its member of the event union; the signature ties them.
  await probot.receive({ id, name, payload } as WebhookEvent);
}

/** One key per test process: generating a 2048-bit RSA key takes tens of milliseconds. */
function testPrivateKey(): string {
  privateKey ??= generateKeyPairSync("rsa", {
    modulusLength: 2048,
    // PKCS#1 is what GitHub hands out for app keys, so the key takes the same path as in production.
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
  return privateKey;
}

function loadWebhookDefinitions(): WebhookDefinition[] {
  if (!webhookDefinitions) {
    const file = createRequire(import.meta.url).resolve("@octokit/webhooks-examples");
    // The package's index.d.ts describes exactly this file.
    webhookDefinitions = JSON.parse(readFileSync(file, "utf8")) as WebhookDefinition[];
  }
  return webhookDefinitions;
}
