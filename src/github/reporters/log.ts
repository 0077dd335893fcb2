// Every event of the stream as one log line, with the object's subject and Flux's reason: the bot's log reads
// like Flux's events (`kubectl events`), scrubbed like them.
import { subjectOf } from "../../reconcile/events.js";
import type { ReporterContext, ReporterFactory, StreamEvent } from "./types.js";

export const logReporter: ReporterFactory = ({ target }: ReporterContext) => ({
  on: ({ cluster, event }: StreamEvent) => {
    const e = event.event;
    const fields = { ...(cluster ? { cluster } : {}), object: subjectOf(e.involvedObject), reason: e.reason };
    if (e.severity === "error") target.log.error(fields, e.message);
    else if (event.type === "object-started" || event.type === "planned") target.log.debug(fields, e.message);
    else target.log.info(fields, e.message);
  },
});
