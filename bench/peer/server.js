// node-oidc-provider (OpenID Certified) as the benchmark's peer: one
// client_credentials client, and a bearer-checked GET that looks the
// access token up the way a resource server on the provider would.
// Usage: node server.js PORT
const { Provider } = require('oidc-provider');
const http = require('node:http');

const port = Number(process.argv[2] || 8091);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bench',
    client_secret: 'bench-secret-bench-secret-bench-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'hubs:read accounts:read',
  }],
  scopes: ['hubs:read', 'accounts:read'],
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
});
provider.on('server_error', (ctx, error) => console.error(error));
const callback = provider.callback();

const hub = JSON.stringify({ id: 'hub_0', serial: 'OPC3-000101', kind: 'hub', name: 'Boardroom hub',
  state: { active: 1, connected: [1, 0, 0, 0], mtrmode: true } });

http.createServer(async (req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/api/v1/hubs/')) {
    const auth = req.headers.authorization || '';
    const token = auth.startsWith('Bearer ') ? await provider.ClientCredentials.find(auth.slice(7)) : undefined;
    if (!token || token.isExpired) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end('{"error":"invalid_token"}');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(hub);
  }
  return callback(req, res);
}).listen(port, '127.0.0.1', () => console.log(`listening 127.0.0.1:${port}`));
