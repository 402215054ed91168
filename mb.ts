import { md5First32 } from "./lib/sharding/md5.js";
const keys = Array.from({ length: 100000 }, (_, i) => `bench:key:${i}`);
for (let r = 0; r < 4; r++) { const t = performance.now(); let x = 0; for (let i = 0; i < 2e6; i++) x ^= md5First32(keys[i % 100000]!); console.log(((performance.now() - t) / 2e3).toFixed(3), "us", x); }
