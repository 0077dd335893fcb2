// Defaults of the apply engine that option builders read without loading the engine itself (apply.ts).

/** API requests one Kustomization's apply has in flight at once. */
export const DEFAULT_APPLY_CONCURRENCY = 16;

/** The field manager of every apply the bot makes (server-side apply's owner of the fields it sets). */
export const FIELD_MANAGER = "gitops-bot";
