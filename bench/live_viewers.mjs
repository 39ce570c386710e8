// live_viewers.mjs — many anonymous Socket.IO viewers of one live Q&A session, for bench/live_qa.py.
//
//   node bench/live_viewers.mjs SESSION_ID BASE_URL=COUNT [BASE_URL=COUNT ...]
//
// Each viewer is its own connection (forceNew: io() would otherwise share one per URL), with the
// official socket.io client from package.json over websocket, joined to the session. Prints
// "ready N" once all N viewers have joined; then, for each approved question that reached every
// viewer, "done QUESTION_ID T1,T2,…" (arrival times, Unix epoch milliseconds, the clock Python's
// time.time() reads), and "dup QUESTION_ID VIEWER" if one viewer gets a question twice. Node's one event loop reads a thousand sockets at a small fraction of the
// CPU python-socketio's clients need, so on a shared machine the figure is more the server's.
// Exits when stdin closes.
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";

const [sessionText, ...targets] = process.argv.slice(2);
const sessionId = Number(sessionText);
const CONNECT_AT_ONCE = 50;
const TIMEOUT = 60000;

const sockets = [];
const arrivals = new Map(); // question id → arrival times
let expected = Infinity; // set once everyone has joined

const clock = () => performance.timeOrigin + performance.now();

function onEvent(index, event) {
  const at = clock();
  const question = event && event.question;
  if (!question || question.status !== "approved") return;
  let times = arrivals.get(question.id);
  if (!times) {
    times = new Map(); // viewer → arrival: a second delivery to one viewer is reported, not counted
    arrivals.set(question.id, times);
  }
  if (times.has(index)) {
    process.stdout.write(`dup ${question.id} ${index}\n`);
    return;
  }
  times.set(index, at);
  if (times.size === expected) {
    process.stdout.write(`done ${question.id} ${[...times.values()].map((t) => t.toFixed(3)).join(",")}\n`);
  }
}

let made = 0;

function viewer(base) {
  const index = made++;
  return new Promise((resolve, reject) => {
    const socket = io(`${base}/live`, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      timeout: TIMEOUT,
    });
    socket.on("live_event", (event) => onEvent(index, event));
    socket.once("connect_error", (err) => reject(new Error(`connect to ${base}: ${err.message}`)));
    socket.once("connect", () => {
      socket.timeout(TIMEOUT).emit("join", { session_id: sessionId }, (err, reply) => {
        if (err || !reply || !reply.ok) {
          reject(new Error(`join refused: ${JSON.stringify(err ? String(err) : reply)}`));
          return;
        }
        sockets.push(socket);
        resolve();
      });
    });
  });
}

async function main() {
  const queue = [];
  for (const target of targets) {
    const at = target.lastIndexOf("=");
    const base = target.slice(0, at);
    for (let i = Number(target.slice(at + 1)); i > 0; i -= 1) queue.push(base);
  }
  const lanes = Array.from({ length: CONNECT_AT_ONCE }, async () => {
    while (queue.length) await viewer(queue.pop());
  });
  await Promise.all(lanes);
  expected = sockets.length;
  process.stdout.write(`ready ${sockets.length}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => {
    sockets.forEach((socket) => socket.disconnect());
    process.exit(0);
  });
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
