// Email (`type: email`): not a Flux provider type; gitops-bot adds it. One plain-text message per event over
// SMTP (src/notify/transport/smtp.ts). The Provider's address is the SMTP server (`smtp://host:port`,
// `smtps://host:port` or `host:port`, in spec.address or the Secret); the Secret's `username` and `password`
// log in; the Secret's `from` is the sender and its `to` the recipients (comma-separated), `spec.channel` being
// the recipients when the Secret has no `to`. docs/notifications.md has an example.
import { eventSubject, type NotifyEvent, sortedMetadata } from "../../event.js";
import { parseSmtpAddress } from "../../transport/smtp.js";
import type { MailMessage, NotificationProvider, ProviderSettings } from "../types.js";

const emailAddress = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+$/;

export function recipients(settings: ProviderSettings): string[] {
  const list = settings.secretData.to ?? settings.channel ?? "";
  return list
    .split(/[,;\s]+/)
    .map((r) => r.trim())
    .filter(Boolean);
}

export function mailFor(event: NotifyEvent, from: string, to: string[]): MailMessage {
  const subject = eventSubject(event.involvedObject);
  const summary = event.metadata.summary ? `${event.metadata.summary}: ` : "";
  const lines = [
    event.message,
    "",
    `object:    ${subject}`,
    `severity:  ${event.severity}`,
    `reason:    ${event.reason}`,
    ...sortedMetadata(event.metadata).map(([key, value]) => `${`${key}:`.padEnd(10)} ${value}`),
    `time:      ${event.timestamp}`,
    `reported by ${event.reportingController}`,
  ];
  return {
    from,
    to,
    subject: `[${event.severity}] ${summary}${subject}: ${event.reason}`.replace(/[\r\n]+/g, " "),
    text: `${lines.join("\n")}\n`,
  };
}

export const emailProvider: NotificationProvider = {
  type: "email",
  check(settings) {
    if (!settings.address) {
      return {
        field: "spec.address",
        message: "is required (the SMTP server: smtp://host:port or host:port)",
      };
    }
    const server = parseSmtpAddress(settings.address);
    if (typeof server === "string") {
      return { field: settings.addressFromSecret ? "the Secret's address" : "spec.address", message: server };
    }
    if (settings.proxy) return { field: "spec.proxy", message: "is not supported for email" };
    const from = settings.secretData.from;
    if (!from || !emailAddress.test(from)) {
      return { field: "the Secret's from", message: "must be the sender's email address" };
    }
    const to = recipients(settings);
    if (to.length === 0) {
      return { field: "the Secret's to", message: "must list the recipients (or set spec.channel)" };
    }
    const bad = to.find((r) => !emailAddress.test(r));
    if (bad) return { field: "the Secret's to", message: `${JSON.stringify(bad)} is not an email address` };
    return undefined;
  },
  async send(event, settings, io) {
    await io.sendMail(mailFor(event, settings.secretData.from!, recipients(settings)));
    return { sent: true };
  },
};
