// The one place that decides how a registry's 401 is answered and where credentials may go (OCI sources, OCI
// Helm charts and image scans all use it): tables of challenges, realms and hosts.
import { describe, expect, test } from "vitest";
import { answerFor, tokenFromAnswer, tokenRequest } from "../../src/util/registry/token.js";

const creds = { username: "u", password: "canary-password" };
const bearer = (realm: string, extra = "") => ({
  scheme: "bearer",
  params: { realm, ...(extra ? { scope: extra } : {}) },
});

describe("registry token conversation", () => {
  test.each([
    ['Bearer realm="https://r.example/token",service="r"', "bearer"],
    ['Basic realm="x"', "basic"],
    ["", "none"],
    ["Negotiate", "none"],
  ])("%j is answered with %s", (header, scheme) => {
    expect(answerFor(header).scheme).toBe(scheme);
  });

  test.each([
    ["https://registry.example:5000", "https://registry.example:5000/token", true],
    ["https://registry.example", "https://evil.example/token", false],
    ["https://registry.example", "http://registry.example/token", false],
    ["https://registry-1.docker.io", "https://auth.docker.io/token", true],
    ["https://registry.gitlab.com", "https://gitlab.com/jwt/auth", true],
  ])("credentials for %s go to the realm %s: %s", (registry, realm, sent) => {
    const request = tokenRequest(bearer(realm), new URL(registry), "repository:a/b:pull", creds);
    expect(request.authorization !== undefined).toBe(sent);
    expect(request.withheld).toBe(!sent);
    expect(request.url.searchParams.get("scope")).toBe("repository:a/b:pull");
  });

  test("a realm's own user information is dropped; the challenge's scope wins", () => {
    const request = tokenRequest(
      bearer("https://user:pw@registry.example/token", "repository:x:pull,push"),
      new URL("https://registry.example"),
      "repository:a/b:pull",
      undefined,
    );
    expect(request.url.username).toBe("");
    expect(request.url.password).toBe("");
    expect(request.url.searchParams.get("scope")).toBe("repository:x:pull,push");
    expect(request.authorization).toBeUndefined();
  });

  test.each([
    [{ scheme: "bearer", params: {} }, /without a realm/],
    [bearer("not a url"), /not a URL/],
    [bearer("file:///etc/passwd"), /http\(s\)/],
  ])("a bad realm is refused: %j", (challenge, message) => {
    expect(() => tokenRequest(challenge, new URL("https://r.example"), "s", creds)).toThrow(message);
  });

  test.each([
    [{ token: "t" }, "t"],
    [{ access_token: "a" }, "a"],
    [{ token: "", access_token: "a" }, "a"],
    [{ token: "t\r\nX-Injected: 1" }, undefined],
    [{}, undefined],
    [null, undefined],
  ])("token of %j is %j", (body, token) => {
    expect(tokenFromAnswer(body)?.token).toBe(token);
  });
});
