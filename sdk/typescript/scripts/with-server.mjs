// Runs a command against a seeded live `harbor serve`:
//   node scripts/with-server.mjs [--submissions N | --posts FILE.ndjson] -- CMD ARGS...
// The command gets HARBOR_URL, HARBOR_READ_TOKEN, HARBOR_WRITE_TOKEN, HARBOR_ADMIN_TOKEN and
// HARBOR_SERVER_PID; its exit code is returned.
import { spawn } from "node:child_process";
import { startServer } from "./server.mjs";

const argv = process.argv.slice(2);
const sep = argv.indexOf("--");
if (sep < 0 || sep === argv.length - 1) {
  console.error("usage: node scripts/with-server.mjs [--submissions N | --posts FILE.ndjson] -- CMD ARGS...");
  process.exit(2);
}
const opts = argv.slice(0, sep);
const opt = (name) => (opts.indexOf(name) >= 0 ? opts[opts.indexOf(name) + 1] : undefined);
const n = Number(opt("--submissions") ?? 240);
const [cmd, ...args] = argv.slice(sep + 1);
const server = await startServer({ submissions: n, posts: opt("--posts") });
const code = await new Promise((resolve) => {
  const child = spawn(cmd, args, {
    stdio: "inherit",
    env: {
      ...process.env,
      HARBOR_URL: server.url,
      HARBOR_READ_TOKEN: server.tokens.read,
      HARBOR_WRITE_TOKEN: server.tokens.write,
      HARBOR_ADMIN_TOKEN: server.tokens.admin,
      HARBOR_SERVER_PID: String(server.pid),
    },
  });
  child.on("exit", (c) => resolve(c ?? 1));
});
await server.stop();
process.exit(code);
