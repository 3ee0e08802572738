// A loopback S3 server for bench/cache/run.sh: s3rver (its module directory is argv[2]) on 127.0.0.1:argv[4]
// storing under argv[3], with bucket "models", counting what it serves. Counters as JSON from
// http://127.0.0.1:argv[5]/ (GET /reset zeroes them): requests, object GETs (and the bytes of their
// bodies, from Content-Length), bucket GETs (listings), HEADs, PUTs.
'use strict';
const http = require('http');
const S3rver = require(process.argv[2]);
const [directory, port, statsPort] = [process.argv[3], Number(process.argv[4]), Number(process.argv[5])];

const zero = () => ({ requests: 0, objectGets: 0, objectGetBytes: 0, listings: 0, heads: 0, puts: 0 });
let stats = zero();
const server = new S3rver({ address: '127.0.0.1', port, directory, silent: true, configureBuckets: [{ name: 'models' }] });
server.middleware.unshift(async (ctx, next) => {
  await next();
  stats.requests++;
  const isObject = ctx.path.split('/').filter(s => s.length > 0).length > 1;
  if (ctx.method === 'GET' && isObject) {
    stats.objectGets++;
    stats.objectGetBytes += Number(ctx.response.get('Content-Length') || 0);
  } else if (ctx.method === 'GET') {
    stats.listings++;
  } else if (ctx.method === 'HEAD') {
    stats.heads++;
  } else if (ctx.method === 'PUT') {
    stats.puts++;
  }
});

server.run().then(() => {
  http.createServer((req, res) => {
    if (req.url === '/reset') {
      stats = zero();
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(stats) + '\n');
  }).listen(statsPort, '127.0.0.1', () => console.log(`s3 server on 127.0.0.1:${port}, counters on 127.0.0.1:${statsPort}`));
});
