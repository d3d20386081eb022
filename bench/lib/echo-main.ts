// The echo server as a process of its own, like the switch: prints its port, runs until killed.
import { startEchoServer } from './driver.ts';

const server = await startEchoServer();
console.log(JSON.stringify({ msg: 'echo listening', port: server.port }));
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
