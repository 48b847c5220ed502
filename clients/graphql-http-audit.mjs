// The GraphQL-over-HTTP specification's audit suite (graphql-http) against a running server:
// node graphql-http-audit.mjs http://127.0.0.1:8000/graphql  (prints what is not ok, then totals)
import { serverAudits } from 'graphql-http';
const url = process.argv[2];
let pass = 0, warn = 0, fail = 0;
for (const audit of serverAudits({ url })) {
  const r = await audit.fn();
  if (r.status === 'ok') pass++; else if (r.status === 'warn') warn++; else fail++;
  if (r.status !== 'ok') console.log(r.status.toUpperCase(), audit.id, audit.name, '-', r.reason);
}
console.log(`ok ${pass}, warn ${warn}, error ${fail}`);
process.exitCode = fail ? 1 : 0;
