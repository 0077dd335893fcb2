// Discord (`type: discord`), as Flux's notifier/discord.go: the Slack attachment posted to the webhook's
// Slack-compatible endpoint (`<webhook>/slack`). The channel is fixed by the webhook itself.
import { httpAddressProblem, isCommitStatusUpdate, jsonHeaders, slackPayload } from "../shared/format.js";
import type { NotificationProvider } from "../types.js";

/** The webhook's Slack-compatible endpoint: `/slack` appended to the path, unless it is there already. */
export function discordSlackUrl(address: string): string {
  const url = new URL(address);
  if (!url.pathname.endsWith("/slack")) url.pathname = `${url.pathname.replace(/\/+$/, "")}/slack`;
  return url.toString();
}

export const discordProvider: NotificationProvider = {
  type: "discord",
  check: (settings) => httpAddressProblem(settings),
  async send(event, settings, io) {
    if (isCommitStatusUpdate(event)) return { skipped: "a commit status update (Flux does not post these)" };
    const payload = slackPayload(event, {
      username: settings.username || event.reportingController,
      color: event.severity === "error" ? "danger" : "good",
    });
    await io.postJson({
      url: discordSlackUrl(settings.address!),
      body: JSON.stringify(payload),
      headers: jsonHeaders(),
    });
    return { sent: true };
  },
};
