// A generic webhook (`type: generic`), as Flux's notifier/forwarder.go: the event itself as JSON (Flux's
// eventv1.Event), with a `Gotk-Component` header naming the reporting controller and the Secret's `headers`.
import { fluxEventPayload, type NotifyEvent } from "../../event.js";
import { httpAddressProblem, jsonHeaders } from "../shared/format.js";
import type { NotificationProvider, ProviderSettings } from "../types.js";

/** Flux's NotificationHeader. */
export const componentHeader = "gotk-component";

export function forwarderHeaders(event: NotifyEvent, settings: ProviderSettings): Record<string, string> {
  return jsonHeaders({ [componentHeader]: event.reportingController, ...settings.headers });
}

export const genericProvider: NotificationProvider = {
  type: "generic",
  check: (settings) => httpAddressProblem(settings),
  async send(event, settings, io) {
    await io.postJson({
      url: settings.address!,
      body: JSON.stringify(fluxEventPayload(event)),
      headers: forwarderHeaders(event, settings),
    });
    return { sent: true };
  },
};
