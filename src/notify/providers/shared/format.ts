// Pieces of Flux's payloads that several providers share: how an object is named in a message, the Slack
// attachment Slack, Discord and Rocket.Chat all read, and the events Flux's chat providers skip.
import { type NotifyEvent, sortedMetadata } from "../../event.js";
import type { ProviderSettings, SettingsProblem } from "../types.js";

/** Flux's chat title for an object: `kustomization/apps.flux-system` (lower-case kind, name.namespace). */
export function fluxObjectName(event: NotifyEvent): string {
  const { kind, name, namespace } = event.involvedObject;
  return `${kind.toLowerCase()}/${name}.${namespace}`;
}

/** Flux's chat providers skip the "update" events its commit-status providers emit (metadata commit_status). */
export function isCommitStatusUpdate(event: NotifyEvent): boolean {
  return event.metadata.commit_status === "update";
}

export interface SlackField {
  title: string;
  value: string;
  short: boolean;
}

export interface SlackAttachment {
  color: string;
  author_name: string;
  text: string;
  mrkdwn_in: string[];
  fields: SlackField[];
}

/** Flux's SlackPayload, field for field (Go marshals every field but `text` and `attachments` when empty). */
export interface SlackPayload {
  channel: string;
  username: string;
  icon_url: string;
  icon_emoji: string;
  text?: string;
  attachments?: SlackAttachment[];
}

export function slackAttachment(event: NotifyEvent, color: string): SlackAttachment {
  return {
    color,
    author_name: fluxObjectName(event),
    text: event.message,
    mrkdwn_in: ["text"],
    fields: sortedMetadata(event.metadata).map(([title, value]) => ({ title, value, short: false })),
  };
}

export function slackPayload(
  event: NotifyEvent,
  options: { channel?: string; username?: string; color: string },
): SlackPayload {
  return {
    channel: options.channel ?? "",
    username: options.username ?? "",
    icon_url: "",
    icon_emoji: "",
    attachments: [slackAttachment(event, options.color)],
  };
}

/** The address an HTTP provider posts to must be an http(s) URL. */
export function httpAddressProblem(settings: ProviderSettings): SettingsProblem | undefined {
  const field = settings.addressFromSecret ? "the Secret's address" : "spec.address";
  if (!settings.address) {
    return {
      field: "spec.address",
      message: "is required (in spec.address or the secretRef Secret's address)",
    };
  }
  let url: URL;
  try {
    url = new URL(settings.address);
  } catch {
    return { field, message: "is not a URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { field, message: "must be an http:// or https:// URL" };
  }
  return undefined;
}

export function jsonHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { "content-type": "application/json", ...extra };
}
