// The Provider and Alert objects among a run's objects, each parsed on its own: one that cannot be read is an
// error naming its file, object and field, and the others are still used.
import type { KubernetesObject } from "@kubernetes/client-node";
import { ManifestError } from "../flux/errors.js";
import {
  type FluxNotificationObject,
  isNotificationObject,
  parseNotificationObject,
} from "../flux/notification.js";

export interface NotificationObjects {
  objects: FluxNotificationObject[];
  errors: ManifestError[];
}

export function readNotificationObjects(
  sourced: readonly { object: KubernetesObject; file: string }[],
): NotificationObjects {
  const result: NotificationObjects = { objects: [], errors: [] };
  for (const { object, file } of sourced) {
    if (!isNotificationObject(object)) continue;
    try {
      result.objects.push(parseNotificationObject(object, file));
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      result.errors.push(error);
    }
  }
  return result;
}
