// Preloaded into Portkey's gateway by bench/portkey_setup.py (node --require): its start-server.js has no host
// option and binds 0.0.0.0; the bench serves on loopback only, so every listen() on a port goes to 127.0.0.1.
"use strict";
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    const rest = args.slice(1);
    if (rest.length && (typeof rest[0] === "string" || rest[0] === undefined || rest[0] === null)) rest.shift();
    return listen.call(this, first, "127.0.0.1", ...rest);
  }
  if (first && typeof first === "object" && first.path === undefined) {
    args[0] = { ...first, host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};
