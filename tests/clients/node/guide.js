// The Server2Server guide's client code, run against hubgate.
// Step 1 is the guide's axios snippet verbatim, except that the host
// https://operated.ochno.com is replaced by HUBGATE_URL. Steps 2 and 3 follow
// the guide's text. Prints what it got as JSON; exits non-zero on any failure.
const axios = require('axios');

async function main() {
  const host = process.env.HUBGATE_URL;

  // Step 1 (the guide's snippet).
  const response = await axios.post(`${host}/identity/oauth/v2/token`, { client_id: process.env.clientID, client_secret: process.env.clientSecret, grant_type: 'client_credentials', scope: 'hubs:read hubs:write accounts:read' }, { headers : { "Content-Type" : "application/x-www-form-urlencoded", } })
  const access_token = response.data.access_token; const refresh_token = response.data.refresh_token;

  // Step 2: call the API with "Authorization : Bearer *access_token*".
  const hubs = await axios.get(`${host}/api/v1/hubs`, { headers: { Authorization: `Bearer ${access_token}` } });

  // Step 3: new access_token & refresh_token from refresh_token, client_id,
  // client_secret, grant_type = 'refresh_token' and redirect_uri.
  const refreshed = await axios.post(`${host}/identity/oauth/v2/token`, { refresh_token: refresh_token, client_id: process.env.clientID, client_secret: process.env.clientSecret, grant_type: 'refresh_token', redirect_uri: process.env.redirectURI }, { headers : { "Content-Type" : "application/x-www-form-urlencoded", } })
  const again = await axios.get(`${host}/api/v1/hubs`, { headers: { Authorization: `Bearer ${refreshed.data.access_token}` } });

  console.log(JSON.stringify({
    axios: require('axios/package.json').version,
    token_type: response.data.token_type,
    has_access_token: typeof access_token === 'string' && access_token.length > 0,
    has_refresh_token: typeof refresh_token === 'string' && refresh_token.length > 0,
    hubs: hubs.data.items.length,
    refreshed_refresh_token_differs: refreshed.data.refresh_token !== refresh_token,
    hubs_after_refresh: again.data.items.length,
  }));
}

main().catch((error) => {
  console.error(error.response ? JSON.stringify({ status: error.response.status, data: error.response.data }) : String(error));
  process.exit(1);
});
