// Node.js stand-in for the crawler client (same protocol as crawler.py), with no
// keepalive code of its own (net.connect leaves keepalive off by default).
// Usage: node crawler.js HOST PORT
'use strict';
const net = require('net');

const t0 = process.hrtime.bigint();
const log = (msg) => {
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`[${s.toFixed(2).padStart(6)}s] node crawler: ${msg}`);
};

const [host, port] = process.argv.slice(2);
const sock = net.connect({ host, port: Number(port) }, () => log('connected'));
sock.on('data', (data) => {
  const task = data.toString().trim();
  log(`got '${task}'`);
  sock.write(`ack ${task}\n`);
});
sock.on('end', () => {
  log('controller closed the connection');
  sock.end();
});
sock.on('error', (err) => {
  log(`error: ${err.message}`);
  process.exitCode = 1;
});
