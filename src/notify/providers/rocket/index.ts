// Rocket.Chat (`type: rocket`), as Flux's notifier/rocket.go: the Slack attachment, blue or red by severity,
// posted to an incoming webhook with the Provider's channel and username.
import { httpAddressProblem, jsonHeaders, slackPayload } from "../shared/format.js";
import type { NotificationProvider } from "../types.js";

export const rocketProvider: NotificationProvider = {
  type: "rocket",
  check: (settings) => httpAddressProblem(settings),
  async send(event, settings, io) {
    const payload = slackPayload(event, {
      ...(settings.channel ? { channel: settings.channel } : {}),
      ...(settings.username ? { username: settings.username } : {}),
      color: event.severity === "error" ? "#FF0000" : "#0076D7",
    });
    await io.postJson({ url: settings.address!, body: JSON.stringify(payload), headers: jsonHeaders() });
    return { sent: true };
  },
};
