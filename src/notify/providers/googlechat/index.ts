// Google Chat (`type: googlechat`), as Flux's notifier/google_chat.go: a card whose header is the object and
// the reporting controller, one section with the message (red for errors), one with the metadata as key-value
// widgets when there is any. Like Flux, it skips `Progressing` events (Google Chat would replace the more
// useful message with them) and commit status updates.
import type { NotifyEvent } from "../../event.js";
import { sortedMetadata } from "../../event.js";
import { fluxObjectName, httpAddressProblem, isCommitStatusUpdate, jsonHeaders } from "../shared/format.js";
import type { NotificationProvider } from "../types.js";

export function googleChatPayload(event: NotifyEvent) {
  const text = event.severity === "error" ? `<font color="#ff0000">${event.message}</font>` : event.message;
  const sections: unknown[] = [{ header: "", widgets: [{ textParagraph: { text }, keyValue: null }] }];
  const metadata = sortedMetadata(event.metadata);
  if (metadata.length > 0) {
    sections.push({
      header: "",
      widgets: metadata.map(([topLabel, content]) => ({
        textParagraph: null,
        keyValue: { topLabel, content, contentMultiline: false, bottomLabel: null, icon: null },
      })),
    });
  }
  return {
    cards: [
      {
        header: {
          title: fluxObjectName(event),
          subtitle: event.reportingController,
          imageUrl: null,
          imageStyle: null,
        },
        sections,
      },
    ],
  };
}

export const googlechatProvider: NotificationProvider = {
  type: "googlechat",
  check: (settings) => httpAddressProblem(settings),
  async send(event, settings, io) {
    if (isCommitStatusUpdate(event)) return { skipped: "a commit status update (Flux does not post these)" };
    if (event.reason === "Progressing") return { skipped: "a Progressing event (Flux does not post these)" };
    await io.postJson({
      url: settings.address!,
      body: JSON.stringify(googleChatPayload(event)),
      headers: jsonHeaders(),
    });
    return { sent: true };
  },
};
