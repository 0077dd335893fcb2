// The registry client lives below source/ and images/ (src/util/registry/client.ts); kept here for importers.
export * from "../../util/registry/client.js";
