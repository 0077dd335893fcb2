// A signed generic webhook (`type: generic-hmac`), as Flux's forwarder with an HMAC key: the generic payload,
// and `X-Signature: sha256=<hex HMAC-SHA256 of the body>` keyed with the Secret's `token`, so the receiver can
// check who sent it and that it was not changed. The signature covers exactly the bytes sent.
import { createHmac } from "node:crypto";
import { fluxEventPayload } from "../../event.js";
import { forwarderHeaders } from "../generic/index.js";
import { httpAddressProblem } from "../shared/format.js";
import type { NotificationProvider } from "../types.js";

export const signatureHeader = "x-signature";

/** `sha256=<hex>`: Flux's X-Signature value for `body` under `key`. */
export function hmacSignature(body: string, key: string): string {
  return `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;
}

export const genericHmacProvider: NotificationProvider = {
  type: "generic-hmac",
  check(settings) {
    if (!settings.token) {
      return { field: "spec.secretRef", message: "generic-hmac needs the HMAC key as the Secret's token" };
    }
    return httpAddressProblem(settings);
  },
  async send(event, settings, io) {
    const body = JSON.stringify(fluxEventPayload(event));
    await io.postJson({
      url: settings.address!,
      body,
      headers: {
        ...forwarderHeaders(event, settings),
        [signatureHeader]: hmacSignature(body, settings.token!),
      },
    });
    return { sent: true };
  },
};
