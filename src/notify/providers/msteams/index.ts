// Microsoft Teams (`type: msteams`), as Flux's notifier/teams.go: an Adaptive Card (1.4, full width: the object
// as a large title, the message — red for errors — and the metadata as facts, summary first) for Workflows
// webhooks; the deprecated Office 365 connector's MessageCard when the host ends in `.webhook.office.com`.
import { type NotifyEvent, sortedMetadata } from "../../event.js";
import { fluxObjectName, httpAddressProblem, isCommitStatusUpdate, jsonHeaders } from "../shared/format.js";
import type { NotificationProvider } from "../types.js";

/** Whether the address is the retired Office 365 connector, which reads MessageCards only. */
export function isOffice365Connector(address: string): boolean {
  return new URL(address).hostname.toLowerCase().endsWith(".webhook.office.com");
}

export function messageCard(event: NotifyEvent) {
  const objName = fluxObjectName(event);
  return {
    "@type": "MessageCard",
    "@context": "http://schema.org/extensions",
    themeColor: event.severity === "error" ? "FF0000" : "0076D7",
    summary: objName,
    sections: [
      {
        activityTitle: event.message,
        activitySubtitle: objName,
        facts: sortedMetadata(event.metadata).map(([name, value]) => ({ name, value })),
      },
    ],
  };
}

export function adaptiveCard(event: NotifyEvent) {
  const message: Record<string, unknown> = { type: "TextBlock", text: event.message, wrap: true };
  if (event.severity === "error") message.color = "attention";
  return {
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
                  text: fluxObjectName(event),
                  size: "large",
                  weight: "bolder",
                  wrap: true,
                },
                message,
                {
                  type: "FactSet",
                  facts: sortedMetadata(event.metadata).map(([title, value]) => ({ title, value })),
                },
              ],
            },
          ],
          msteams: { width: "Full" },
        },
      },
    ],
  };
}

export const msteamsProvider: NotificationProvider = {
  type: "msteams",
  check: (settings) => httpAddressProblem(settings),
  async send(event, settings, io) {
    if (isCommitStatusUpdate(event)) return { skipped: "a commit status update (Flux does not post these)" };
    const address = settings.address!;
    const payload = isOffice365Connector(address) ? messageCard(event) : adaptiveCard(event);
    await io.postJson({ url: address, body: JSON.stringify(payload), headers: jsonHeaders() });
    return { sent: true };
  },
};
