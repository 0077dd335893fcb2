// Provider registry: Provider `spec.type` → implementation. Adding a provider is adding a folder beside these
// and a line here, nothing else. Flux types not listed are refused when the Provider is read, naming
// spec.type and the types gitops-bot can send to.
import { discordProvider } from "./discord/index.js";
import { emailProvider } from "./email/index.js";
import { genericProvider } from "./generic/index.js";
import { genericHmacProvider } from "./generic-hmac/index.js";
import { githubProvider } from "./github/index.js";
import { githubDispatchProvider } from "./githubdispatch/index.js";
import { googlechatProvider } from "./googlechat/index.js";
import { msteamsProvider } from "./msteams/index.js";
import { rocketProvider } from "./rocket/index.js";
import { slackProvider } from "./slack/index.js";
import type { NotificationProvider } from "./types.js";

export type {
  HttpAnswer,
  HttpRequest,
  MailMessage,
  NotificationProvider,
  ProviderIO,
  ProviderSettings,
  SendOutcome,
  SettingsProblem,
} from "./types.js";

export const notificationProviders: Readonly<Record<string, NotificationProvider>> = {
  slack: slackProvider,
  msteams: msteamsProvider,
  discord: discordProvider,
  googlechat: googlechatProvider,
  rocket: rocketProvider,
  generic: genericProvider,
  "generic-hmac": genericHmacProvider,
  githubdispatch: githubDispatchProvider,
  email: emailProvider,
  github: githubProvider,
};

export function providerFor(type: string): NotificationProvider | undefined {
  return Object.hasOwn(notificationProviders, type) ? notificationProviders[type] : undefined;
}

export const supportedProviderTypes: readonly string[] = Object.keys(notificationProviders);
