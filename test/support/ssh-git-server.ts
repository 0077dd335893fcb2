// A real OpenSSH server (`/usr/sbin/sshd`, Debian package openssh-server) that serves git repositories by
// absolute path, so SSH sources are tested over the protocol Flux users point at: public-key login with a
// generated client key, and a generated host key that the client must know. It runs as the current user
// (sshd can only log in the user it runs as, unless it is root) on a free loopback port.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort, type ManagedProcess, startProcess, waitFor } from "./processes.js";

const SSHD = "/usr/sbin/sshd";

export interface RunningSshGitServer {
  /** `ssh://<user>@127.0.0.1:<port>`; a repository at absolute path `/x/y` is at `${urlPrefix}/x/y`. */
  urlPrefix: string;
  /** The client private key (OpenSSH format) whose public half is the only authorized key. */
  identity: string;
  /** The known_hosts line for the server's host key: `[127.0.0.1]:<port> ssh-ed25519 AAAA...`. */
  knownHosts: string;
  port: number;
  stop(): Promise<void>;
}

export interface SshKeyPair {
  privateKey: string;
  /** `ssh-ed25519 AAAA...`, without the comment. */
  publicKey: string;
}

/** Generates an unencrypted ed25519 key pair with ssh-keygen; the files are left in `dir` as `<name>`. */
export async function generateSshKey(dir: string, name: string): Promise<SshKeyPair> {
  const path = join(dir, name);
  await new Promise<void>((resolve, reject) => {
    execFile("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path], (error, _out, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") {
        reject(new Error('"ssh-keygen" not found on PATH; install it with apt-get install openssh-client'));
      } else if (error) {
        reject(new Error(`ssh-keygen failed: ${stderr.trim() || error.message}`));
      } else {
        resolve();
      }
    });
  });
  const [type, key] = readFileSync(`${path}.pub`, "utf8").trim().split(/\s+/);
  return { privateKey: readFileSync(path, "utf8"), publicKey: `${type} ${key}` };
}

/** Starts sshd; git repositories made with createGitRepo are then reachable by their absolute paths. */
export async function startSshGitServer(): Promise<RunningSshGitServer> {
  if (!existsSync(SSHD)) {
    throw new Error(
      `${SSHD} not found; install it with apt-get install --no-install-recommends openssh-server`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-sshd-"));
  try {
    const host = await generateSshKey(dir, "host_key");
    const client = await generateSshKey(dir, "client_key");
    const authorizedKeys = join(dir, "authorized_keys");
    writeFileSync(authorizedKeys, `${client.publicKey}\n`, { mode: 0o600 });
    const user = userInfo().username;
    const root = process.getuid?.() === 0;
    // sshd started by root insists on its privilege separation directory, which only the systemd unit makes.
    if (root) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

    // freePort can race with another process taking the port; sshd then exits at once and we try again.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const config = join(dir, "sshd_config");
      writeFileSync(
        config,
        [
          `Port ${port}`,
          "ListenAddress 127.0.0.1",
          `HostKey ${join(dir, "host_key")}`,
          `PidFile ${join(dir, "sshd.pid")}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          `AllowUsers ${user}`,
          "StrictModes no",
          "UsePAM no",
          "PubkeyAuthentication yes",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          `PermitRootLogin ${root ? "prohibit-password" : "no"}`,
          "PrintMotd no",
          "LogLevel VERBOSE",
          "",
        ].join("\n"),
      );
      const sshd = startProcess(`sshd-${port}`, SSHD, ["-D", "-e", "-f", config], { logDir: dir });
      try {
        await waitFor("sshd to send its banner", () => sshBanner(port), {
          timeoutMs: 10_000,
          process: sshd,
        });
      } catch (error) {
        lastError = error;
        await sshd.stop();
        continue;
      }
      return {
        urlPrefix: `ssh://${user}@127.0.0.1:${port}`,
        identity: client.privateKey,
        knownHosts: `[127.0.0.1]:${port} ${host.publicKey}\n`,
        port,
        stop: () => stop(sshd, dir),
      };
    }
    throw lastError;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function stop(sshd: ManagedProcess, dir: string): Promise<void> {
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** True once something on the port greets like an SSH server. */
function sshBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
    socket.once("data", (chunk: Buffer) => {
      socket.destroy();
      resolve(chunk.toString("latin1").startsWith("SSH-"));
    });
  });
}
