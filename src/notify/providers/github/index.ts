// Flux's `github` provider writes commit statuses. gitops-bot writes its own commit statuses for every
// reconcile (src/github/views), so a `github` Provider is accepted and nothing is posted twice.
import type { NotificationProvider } from "../types.js";

export const githubProvider: NotificationProvider = {
  type: "github",
  servedBy: "served by the bot's own commit statuses",
  check: () => undefined,
  send: async () => ({ skipped: "served by the bot's own commit statuses" }),
};
