// Slack (`type: slack`), as Flux's notifier/slack.go: one attachment per event (the object as author, the
// message as text, the metadata as fields, green or red by severity) posted to an incoming webhook, or to
// chat.postMessage with the Secret's bot token as a Bearer credential. A token and no address means
// chat.postMessage (Flux asks for the address to be written out; gitops-bot fills it in). chat.postMessage
// answers 200 even when it refuses, so its `ok` field is read, as Flux reads it.
import { DeliveryError } from "../../errors.js";
import { httpAddressProblem, isCommitStatusUpdate, jsonHeaders, slackPayload } from "../shared/format.js";
import type { NotificationProvider, ProviderSettings } from "../types.js";

export const slackApiPostMessage = "https://slack.com/api/chat.postMessage";

function address(settings: ProviderSettings): string | undefined {
  return settings.address ?? (settings.token ? slackApiPostMessage : undefined);
}

function isPostMessage(url: string): boolean {
  try {
    return new URL(url).pathname.endsWith("/api/chat.postMessage");
  } catch {
    return false;
  }
}

export const slackProvider: NotificationProvider = {
  type: "slack",
  check(settings) {
    const url = address(settings);
    const problem = httpAddressProblem({ ...settings, address: url });
    if (problem) return problem;
    if (isPostMessage(url!) && !settings.token) {
      return { field: "spec.secretRef", message: "chat.postMessage needs a bot token (the Secret's token)" };
    }
    if (isPostMessage(url!) && !settings.channel) {
      return { field: "spec.channel", message: "is required to post with chat.postMessage" };
    }
    return undefined;
  },
  async send(event, settings, io) {
    if (isCommitStatusUpdate(event)) return { skipped: "a commit status update (Flux does not post these)" };
    const url = address(settings)!;
    const payload = slackPayload(event, {
      ...(settings.channel ? { channel: settings.channel } : {}),
      username: settings.username || event.reportingController,
      color: event.severity === "error" ? "danger" : "good",
    });
    const answer = await io.postJson({
      url,
      body: JSON.stringify(payload),
      headers: jsonHeaders(settings.token ? { authorization: `Bearer ${settings.token}` } : {}),
    });
    if (isPostMessage(url)) {
      let reply: { ok?: unknown; error?: unknown };
      try {
        reply = JSON.parse(answer.body) as { ok?: unknown; error?: unknown };
      } catch {
        throw new DeliveryError("Slack answered with something that is not JSON", false);
      }
      if (reply.ok !== true) {
        throw new DeliveryError(
          `Slack refused the message: ${String(reply.error ?? "no reason given")}`,
          false,
        );
      }
    }
    return { sent: true };
  },
};
